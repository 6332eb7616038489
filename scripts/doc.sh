#!/usr/bin/env bash
# The documentation of both crates as docs.rs builds it: the features and rustdoc flags of each
# crate's [package.metadata.docs.rs] (`doc-only`, so tch, torch-sys and rust-bert neither look
# for nor link libtorch), with no libtorch to be found (LIBTORCH points nowhere, the checkout's
# .venv is not used), no network, `--cfg docsrs` (docs.rs runs nightly rustdoc for the
# `doc(cfg)` badges; RUSTC_BOOTSTRAP lets stable rustdoc take that one feature for these two
# crates only), and warnings denied.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export LIBTORCH="$root/target/no-libtorch-for-docs" LIBTORCH_CXX11_ABI=0
unset LIBTORCH_USE_PYTORCH LIBTORCH_INCLUDE LIBTORCH_LIB
export CARGO_NET_OFFLINE=true
export RUSTC_BOOTSTRAP=emotion_classifier,emotion_classifier_sql
# One rustdoc run over both crates with the union of their docs.rs features (rustdoc-args are
# `--cfg docsrs` for both): per crate, the dependencies' feature sets would differ and much of
# the tree would be checked twice.
features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(",".join(f"{p['"'"'name'"'"']}/{f}" for p in json.load(sys.stdin)["packages"]
               for f in (p.get("metadata") or {}).get("docs", {}).get("rs", {}).get("features", [])))
')
echo "docs.rs build: features $features"
RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo doc --no-deps --workspace --exclude emotion-classifier-consumer --features "$features"
