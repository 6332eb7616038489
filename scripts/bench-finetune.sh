#!/usr/bin/env bash
# Fine-tuning side by side with ../shared/peers/hf_finetune.py (PyTorch 2.4, transformers
# 4.46.3), in one run, on the same base, data, recipe and thread count: each trains, then each
# folder is scored on the test split with emotion-evaluate (macro-F1 at 0.3, and with
# thresholds tuned on dev). Prints the CPU and its features, each side's training texts/s,
# seconds and peak RSS, the ratio, our time breakdown, and the test macro-F1s. Finally it loads
# our folder in Python (AutoModelForSequenceClassification) and compares its scores with the
# crate's.
#
#   scripts/bench-finetune.sh                          # the recipe: 3 epochs (hours on 2 cores)
#   TRAIN_LIMIT=3200 EPOCHS=1 scripts/bench-finetune.sh   # 100 steps each: texts/s in minutes
#   SKIP_PEER=1 scripts/bench-finetune.sh              # ours only
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${SHARED:-$root/../shared}
base=${BASE:-$shared/models/minilm-l6-base}
data=${DATA:-$shared/data/goemotions/ekman}
threads=${THREADS:-$(nproc)}
epochs=${EPOCHS:-3}
limit=${TRAIN_LIMIT:-0}
out=${OUT:-$root/target/bench-finetune}
rm -rf "$out"
mkdir -p "$out"

scripts/setup-libtorch.sh
py="$root/.venv/bin/python"
if ! "$py" -c 'import transformers, numpy; assert transformers.__version__ == "4.46.3"' 2>/dev/null; then
    "$root/.venv/bin/pip" install -q --disable-pip-version-check "transformers==4.46.3" "numpy<2"
fi
cargo build --quiet --release --features cli --bin emotion-finetune --bin emotion-classify-file --bin emotion-evaluate
bin="$root/target/release"

echo "date: $(date -u +%F) commit: $(git rev-parse --short HEAD) threads: $threads epochs: $epochs"
grep -m1 'model name' /proc/cpuinfo || true
echo "features: $(grep -o -w -E 'avx2|avx512f|avx512_vnni|avx_vnni|avx512_bf16|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"

# A subset keeps the GoEmotions layout: the first TRAIN_LIMIT training texts, dev and test whole.
if [ "$limit" != 0 ]; then
    mkdir -p "$out/data"
    head -n "$limit" "$data/train.tsv" > "$out/data/train.tsv"
    cp "$data/dev.tsv" "$data/test.tsv" "$data/labels.txt" "$out/data/"
    data="$out/data"
fi

peak() { grep 'Maximum resident' "$1" | awk '{printf "%.2f GiB", $6 / 1048576}'; }
/usr/bin/time -v "$bin/emotion-finetune" --base "$base" --data "$data" --out "$out/rs" \
    --epochs "$epochs" --threads "$threads" --quiet > "$out/rs.json" 2> "$out/rs.time"
echo "ours: $(cat "$out/rs.json")"
echo "ours peak RSS: $(peak "$out/rs.time")"
if [ "${SKIP_PEER:-0}" = 0 ]; then
    /usr/bin/time -v "$py" "$shared/peers/hf_finetune.py" train "$base" "$data" "$out/py" \
        --epochs "$epochs" --threads "$threads" > "$out/py.log" 2> "$out/py.time"
    tail -n 1 "$out/py.log" > "$out/py.json"
    echo "peer: $(cat "$out/py.json")"
    echo "peer peak RSS: $(peak "$out/py.time")"
    "$py" - "$out/rs.json" "$out/py.json" <<'PY'
import json, sys
rs, py = (json.load(open(p)) for p in sys.argv[1:3])
print(f"training texts/s: ours {rs['texts_per_second']:.1f}, peer {py['texts_per_s']:.1f}, "
      f"ratio {rs['texts_per_second'] / py['texts_per_s']:.2f}")
t = rs["time"]; steps = t["forward_seconds"] + t["backward_seconds"] + t["optimizer_seconds"]
print("ours, share of step time: " + ", ".join(
    f"{k[:-8]} {100 * t[k] / steps:.0f}%" for k in ("forward_seconds", "backward_seconds", "optimizer_seconds")))
PY
fi

evaluate() { # folder
    "$bin/emotion-evaluate" "$data/test.tsv" --model "$1" --labels "$data/labels.txt" \
        --tune-on "$data/dev.tsv" --json 2>/dev/null
}
for side in rs py; do
    [ -d "$out/$side" ] || continue
    evaluate "$out/$side" > "$out/$side-test.json"
    "$py" - "$side" "$out/$side-test.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))
print(f"{sys.argv[1]} test macro-F1: at 0.3 {r['at_threshold']['macro_f1']:.4f}, tuned on dev {r['tuned']['macro_f1']:.4f}")
PY
done

# Our folder in Python: no missing or unexpected keys, and transformers' scores equal the crate's.
head -n 200 "$data/test.tsv" | cut -f1 > "$out/texts.txt"
"$bin/emotion-classify-file" "$out/texts.txt" --format tsv --model "$out/rs" -o "$out/rs-scores.jsonl" 2>/dev/null
"$py" - "$out/rs" "$out/texts.txt" "$out/rs-scores.jsonl" <<'PY'
import json, sys, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
folder, texts, ours = sys.argv[1], open(sys.argv[2]).read().splitlines(), [json.loads(l) for l in open(sys.argv[3])]
model, info = AutoModelForSequenceClassification.from_pretrained(folder, output_loading_info=True)
tok = AutoTokenizer.from_pretrained(folder); model.eval()
labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
worst = 0.0
with torch.no_grad():
    for text, row in zip(texts, ours):
        s = torch.sigmoid(model(**tok(text, return_tensors="pt")).logits[0])
        worst = max(worst, max(abs(float(v) - row["scores"][l]) for l, v in zip(labels, s)))
print(f"python from_pretrained: missing {info['missing_keys']}, unexpected {info['unexpected_keys']}; "
      f"{len(ours)} texts, largest |transformers - crate| score difference {worst:.1e}")
PY
