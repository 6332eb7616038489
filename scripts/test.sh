#!/usr/bin/env bash
# All tests, from a fresh clone: install what is missing (libtorch), then run the unit,
# integration and doc tests, build the examples and benches, and build and run the consumer
# crate that depends on this one by path.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
# `cli` builds the command-line tool and runs its tests too.
cargo test --all-targets --features cli
# The SQL functions on DataFusion and on Ballista (in process, and a loopback cluster of
# `emotion-scheduler` and two `emotion-executor`s): only the binaries that need DataFusion link it.
cargo test --features datafusion,ballista --lib --test sql --test ballista
cargo test --doc --features cli
# The consumer shares this checkout's target folder, so the dependencies build once.
# It must name joy as the top emotion of its text.
out=$(cd tests/consumer && EMOTION_MODEL="$root/../shared/models/emotion-minilm-ekman" \
    cargo run --quiet --target-dir "$root/target" -- "I am so glad you came!")
echo "consumer: $out"
case "$out" in
    *$'\tjoy\t'*) echo "consumer crate: 1 passed, 0 failed" ;;
    *) echo "consumer crate: expected joy, got: $out" >&2; exit 1 ;;
esac
