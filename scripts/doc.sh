#!/usr/bin/env bash
# The documentation of both crates as docs.rs builds it: the features and rustdoc flags of each
# crate's [package.metadata.docs.rs] (`doc-only`, so tch, torch-sys and rust-bert neither look
# for nor link libtorch), with no libtorch to be found (LIBTORCH points nowhere, the checkout's
# .venv is not used), no network, `--cfg docsrs` (docs.rs runs nightly rustdoc for the
# `doc(cfg)` badges; RUSTC_BOOTSTRAP lets stable rustdoc take that feature, given to rustdoc
# alone through a wrapper: set for rustc too, it would rebuild proc-macro2, whose build script
# watches it, and everything built on it), and warnings denied.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export LIBTORCH="$root/target/no-libtorch-for-docs" LIBTORCH_CXX11_ABI=0
unset LIBTORCH_USE_PYTORCH LIBTORCH_INCLUDE LIBTORCH_LIB
export CARGO_NET_OFFLINE=true
mkdir -p target
printf '#!/bin/sh\nRUSTC_BOOTSTRAP=1 exec rustdoc "$@"\n' > target/rustdoc-docsrs
chmod +x target/rustdoc-docsrs
export RUSTDOC="$root/target/rustdoc-docsrs"
# One rustdoc run over both crates with the union of their docs.rs features (rustdoc-args are
# `--cfg docsrs` for both). The examples are documented too: they need the dev-dependencies,
# so the dependencies resolve with the features clippy's `--all-targets` check built them with
# and are not checked a second time (per crate, or without the examples, much of the tree was).
features=$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
print(",".join(f"{p['"'"'name'"'"']}/{f}" for p in json.load(sys.stdin)["packages"]
               for f in (p.get("metadata") or {}).get("docs", {}).get("rs", {}).get("features", [])))
')
echo "docs.rs build: features $features"
RUSTDOCFLAGS="--cfg docsrs -D warnings" cargo doc --no-deps --workspace --exclude emotion-classifier-consumer \
    --lib --bins --examples --features "$features"
