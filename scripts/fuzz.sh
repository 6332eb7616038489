#!/usr/bin/env bash
# Fuzz the paths that take user text with cargo fuzz (libFuzzer): tokenization, truncation and
# chunking, batch planning, the forward pass and scoring; and the readers of a stranger's model
# files: the pickle machine, safetensors, config.json (fuzz/fuzz_targets/).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 300 s each, every target
#
# Installs libtorch (scripts/setup-libtorch.sh) and cargo-fuzz when missing. cargo fuzz needs a
# nightly toolchain: `cargo +nightly` when rustup has one, else stable with RUSTC_BOOTSTRAP=1.
# The classify target's corpus starts from the reference texts in ../shared/reference. Crashes
# land in fuzz/artifacts/<target>/; the script fails if any target finds one.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
seconds=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(classify plan pickle safetensors config)

scripts/setup-libtorch.sh
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    fuzz=(cargo fuzz)
fi
export EMOTION_TEST_MODELS=${EMOTION_TEST_MODELS:-$root/../shared/models}

corpus=fuzz/corpus/classify
if [ ! -d "$corpus" ] && [ -d "$EMOTION_TEST_MODELS/../reference" ]; then
    mkdir -p "$corpus"
    python3 - "$EMOTION_TEST_MODELS/../reference" "$corpus" <<'PY'
import json, pathlib, sys, hashlib
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
for f in sorted(src.glob("*.jsonl")):
    for line in f.read_text().splitlines():
        text = json.loads(line)["text"].encode()
        (dst / hashlib.sha1(text).hexdigest()).write_bytes(text)
PY
fi

# The readers' corpora start from the test models' real files: a state dict's data.pkl, small
# safetensors files, and every config.json.
models=$EMOTION_TEST_MODELS
if [ ! -d fuzz/corpus/pickle ] && [ -f "$models/tiny-roberta-emotion-bin/pytorch_model.bin" ]; then
    mkdir -p fuzz/corpus/pickle
    python3 - "$models/tiny-roberta-emotion-bin/pytorch_model.bin" fuzz/corpus/pickle <<'PY'
import pathlib, sys, zipfile
archive = zipfile.ZipFile(sys.argv[1])
pickle = next(n for n in archive.namelist() if n.endswith("data.pkl"))
pathlib.Path(sys.argv[2], "state-dict.pkl").write_bytes(archive.read(pickle))
PY
fi
if [ ! -d fuzz/corpus/safetensors ]; then
    mkdir -p fuzz/corpus/safetensors
    for f in "$models"/tiny-*/model.safetensors; do
        [ "$(stat -c %s "$f")" -lt 500000 ] && cp "$f" "fuzz/corpus/safetensors/$(basename "$(dirname "$f")")"
    done
fi
if [ ! -d fuzz/corpus/config ]; then
    mkdir -p fuzz/corpus/config
    for f in "$models"/*/config.json; do cp "$f" "fuzz/corpus/config/$(basename "$(dirname "$f")")"; done
fi

for target in "${targets[@]}"; do
    # AddressSanitizer's allocator slows libtorch's many allocations 15x (14 vs 222 inputs/s for
    # classify here), and the crate's own code is safe Rust: classify runs without a sanitizer,
    # its oracle being panics and the target's assertions. plan keeps ASan.
    sanitizer=address
    [ "$target" = classify ] && sanitizer=none
    echo "== fuzzing $target for ${seconds}s (sanitizer: $sanitizer)"
    "${fuzz[@]}" run -s "$sanitizer" "$target" -- -max_total_time="$seconds" -max_len=4096 -print_final_stats=1
done
