#!/usr/bin/env bash
# Both crates as `cargo publish` would upload them: packaged (the files each `include` list
# names), each package built on its own from its packaged sources (the SQL crate against the
# packaged classifier), and checked against crates.io's rules, without uploading. Extra
# arguments go to cargo (`--allow-dirty` in a checkout with uncommitted changes).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scripts/setup-libtorch.sh
cargo publish --dry-run --workspace "$@"
