#!/usr/bin/env bash
# All tests, from a fresh clone: install what is missing (libtorch), then run the unit,
# integration and doc tests of both crates of the workspace (the classifier, and the SQL
# functions on DataFusion and Ballista), build the examples and benches (and run each bench once
# as a test), and run the consumer crate that depends on this one by path (tests/consumer, whose
# test runs its binary as a user would run theirs).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
# One feature set for every cargo command here and in .ci/run, so the dependencies build once:
# `cli` builds the command-line tool and runs its tests; `failpoints` lets the crash tests
# SIGKILL the tools at chosen points; `server` builds `emotion-serve` and runs its loopback
# tests (tests/serve); `ballista` the SQL crate's cluster
# (in process, and a loopback cluster of `emotion-scheduler` and two `emotion-executor`s).
features=${FEATURES:-emotion-classifier/cli,emotion-classifier/failpoints,emotion-classifier/server,emotion-classifier-sql/ballista}
cargo test --workspace --all-targets --features "$features"
cargo test --workspace --doc --features "$features"
