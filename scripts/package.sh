#!/usr/bin/env bash
# Both crates as `cargo publish` would upload them, without uploading: packaged (the files each
# `include` list names) and checked against crates.io's rules, and the classifier's package
# built on its own from its packaged sources. VERIFY_ALL=1 builds the SQL crate's package too
# (against the packaged classifier): about 5 more minutes on 2 cores, since DataFusion builds
# again with that package's own features. Extra arguments go to cargo (`--allow-dirty` in a
# checkout with uncommitted changes).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
if [ "${VERIFY_ALL:-0}" = 1 ]; then
    cargo publish --dry-run --workspace "$@"
else
    cargo publish --dry-run --workspace --no-verify "$@"
    cargo package -p emotion-classifier "$@"
fi
