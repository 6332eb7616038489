#!/usr/bin/env bash
# Side by side with the peers, in one run, on the same texts, model and thread count:
# ../shared/peers/hf_pipeline.py (transformers 4.46.3) in its modes pipeline, sorted, single and
# direct; ../shared/peers/ort_peer.py (ONNX Runtime, optimized graph) sorted and single, in f32
# and int8; and this crate's examples/throughput in the same roles (f32, bf16, int8). Prints the CPU and its
# features, then one table with texts/s, p50/p99 latency and the ratios. Installs what it needs
# (libtorch, the peers' Python packages). SKIP_ORT=1 leaves ONNX Runtime out.
#
#   scripts/bench-vs-python.sh                 # all 5,427 Ekman test texts
#   LIMIT=1000 THREADS=2 scripts/bench-vs-python.sh
#   MODEL=../shared/models/tiny-albert-emotion scripts/bench-vs-python.sh   # any model folder
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${SHARED:-$root/../shared}
model=${MODEL:-$shared/models/emotion-minilm-ekman}
texts=${TEXTS:-$shared/data/goemotions/ekman/test.tsv}
threads=${THREADS:-$(nproc)}
limit=${LIMIT:-0}
out=${OUT:-$root/target/bench-vs-python}
mkdir -p "$out"
rm -f "$out"/*.json

scripts/setup-libtorch.sh
py="$root/.venv/bin/python"
if ! "$py" -c 'import transformers, numpy; assert transformers.__version__ == "4.46.3"' 2>/dev/null; then
    "$root/.venv/bin/pip" install -q --disable-pip-version-check "transformers==4.46.3" "numpy<2"
fi
ort=${SKIP_ORT:-0}
if [ "$ort" = 0 ] && ! "$py" -c 'import onnxruntime, onnx' 2>/dev/null; then
    "$root/.venv/bin/pip" install -q --disable-pip-version-check onnxruntime onnx "numpy<2"
fi
cargo build --quiet --release --example throughput
ours="$root/target/release/examples/throughput"

run() { # name, command...
    local name=$1; shift
    echo "== $name" >&2
    "$@" | tail -n 1 | tee "$out/$name.json" >&2
}
peer="$shared/peers/hf_pipeline.py"
common=(--threads "$threads" --limit "$limit")
run py-pipeline "$py" "$peer" "$model" "$texts" --mode pipeline --batch 32 "${common[@]}" --out "$out/py-scores.jsonl"
run py-sorted "$py" "$peer" "$model" "$texts" --mode sorted --batch 32 "${common[@]}"
run py-single "$py" "$peer" "$model" "$texts" --mode single "${common[@]}"
run py-direct "$py" "$peer" "$model" "$texts" --mode direct "${common[@]}"
if [ "$ort" = 0 ]; then
    ort_peer="$shared/peers/ort_peer.py"
    for precision in fp32 int8; do
        run "ort-sorted-$precision" "$py" "$ort_peer" "$model" "$texts" --mode sorted --batch 32 --precision "$precision" "${common[@]}" --out "$out/ort-$precision.jsonl"
        run "ort-single-$precision" "$py" "$ort_peer" "$model" "$texts" --mode single --precision "$precision" "${common[@]}"
    done
fi
# Ours with the crate's defaults (on 2+ threads: two workers sharing the weights, a lone pass
# taking every thread), then the same with one worker holding all the threads.
one=(--workers 1)
run rs-batch-f32 "$ours" "$texts" --model "$model" --mode batch --precision f32 "${common[@]}" --out "$out/rs-f32.jsonl"
run rs-batch-f32-1-worker "$ours" "$texts" --model "$model" --mode batch --precision f32 "${one[@]}" "${common[@]}"
# The same without the crate's MKL vendor override (src/cpu/mkl/vendor.rs): stock MKL, as Python
# runs it; and without packed weights (src/cpu/mkl/packed.rs): libtorch's own `linear`.
run rs-batch-f32-stock-mkl env EMOTION_MKL_OVERRIDE=0 "$ours" "$texts" --model "$model" --mode batch --precision f32 "${common[@]}"
run rs-batch-f32-plain-weights "$ours" "$texts" --model "$model" --mode batch --precision f32 --plain-weights "${common[@]}"
# The library's default malloc (the examples tune it): what tune_malloc(true) is worth.
run rs-batch-f32-default-malloc "$ours" "$texts" --model "$model" --mode batch --precision f32 --default-malloc "${common[@]}"
# bf16 is emulated (very slow) on CPUs without AVX512-BF16: there, time it on 200 texts only.
bf16_limit=$limit
grep -q avx512_bf16 /proc/cpuinfo || bf16_limit=200
run rs-batch-bf16 "$ours" "$texts" --model "$model" --mode batch --precision bf16 --threads "$threads" --limit "$bf16_limit" --out "$out/rs-bf16.jsonl"
run rs-batch-int8 "$ours" "$texts" --model "$model" --mode batch --precision int8 "${common[@]}" --out "$out/rs-int8.jsonl"
run rs-single "$ours" "$texts" --model "$model" --mode single "${common[@]}"
run rs-single-int8 "$ours" "$texts" --model "$model" --mode single --precision int8 "${common[@]}"
# Single texts without small passes (src/model/small_pass.rs): every pass on libtorch's ops.
run rs-single-no-small-passes "$ours" "$texts" --model "$model" --mode single --no-small-passes "${common[@]}"
run rs-single-int8-no-small-passes "$ours" "$texts" --model "$model" --mode single --precision int8 --no-small-passes "${common[@]}"
run rs-single-1-worker "$ours" "$texts" --model "$model" --mode single "${one[@]}" "${common[@]}"
run rs-single-plain-weights "$ours" "$texts" --model "$model" --mode single --plain-weights "${common[@]}"
run rs-single-default-malloc "$ours" "$texts" --model "$model" --mode single --default-malloc "${common[@]}"
run rs-8-callers-dynamic "$ours" "$texts" --model "$model" --mode concurrent --callers 8 "${common[@]}"
run rs-8-callers-no-dynamic "$ours" "$texts" --model "$model" --mode concurrent --callers 8 --no-dynamic "${common[@]}"
run rs-8-callers-dynamic-1-worker "$ours" "$texts" --model "$model" --mode concurrent --callers 8 "${one[@]}" "${common[@]}"
run rs-8-callers-no-dynamic-1-worker "$ours" "$texts" --model "$model" --mode concurrent --callers 8 --no-dynamic "${one[@]}" "${common[@]}"
# MEMORY=1: peak RSS for 100,000 texts in one classify_batch (the test texts repeated), f32
# and int8; about 6 minutes more on 2 cores.
if [ "${MEMORY:-0}" = 1 ]; then
    run rs-100k-f32 "$ours" "$texts" --model "$model" --mode batch --precision f32 --threads "$threads" --cycle-to 100000
    run rs-100k-int8 "$ours" "$texts" --model "$model" --mode batch --precision int8 --threads "$threads" --cycle-to 100000
fi

"$py" - "$out" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src examples Cargo.toml || echo +changes)" <<'PY'
import json, sys, os, datetime
out, commit = sys.argv[1], sys.argv[2]
r = {n[:-5]: json.load(open(os.path.join(out, n))) for n in os.listdir(out) if n.endswith(".json")}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = set(next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), []))
wanted = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8"]
has = [f for f in wanted if f in flags]
lacks = [f for f in wanted if f not in flags]
base = r["py-pipeline"]
print(f"\n{datetime.date.today()}, at {commit}: {cpu}, {os.cpu_count()} cores; "
      f"has {', '.join(has) or 'none of them'}; lacks {', '.join(lacks) or 'none'}; "
      f"threads {base['threads']}; texts {base['texts']}")
print("| run | texts/s | p50 ms | p99 ms | vs pipeline | vs sorted loop |")
print("| --- | ---: | ---: | ---: | ---: | ---: |")
pipe, srt = base["texts_per_s"], r["py-sorted"]["texts_per_s"]
names = ["py-pipeline", "py-sorted", "py-single", "py-direct",
         "ort-sorted-fp32", "ort-single-fp32", "ort-sorted-int8", "ort-single-int8",
         "rs-batch-f32", "rs-batch-f32-1-worker", "rs-batch-f32-stock-mkl", "rs-batch-f32-plain-weights",
         "rs-batch-f32-default-malloc", "rs-batch-bf16", "rs-batch-int8", "rs-single", "rs-single-int8",
         "rs-single-no-small-passes", "rs-single-int8-no-small-passes", "rs-single-1-worker",
         "rs-single-plain-weights", "rs-single-default-malloc",
         "rs-8-callers-dynamic", "rs-8-callers-no-dynamic", "rs-8-callers-dynamic-1-worker",
         "rs-8-callers-no-dynamic-1-worker", "rs-100k-f32", "rs-100k-int8"]
ms = lambda v: "" if v is None else f"{v:.2f}"
for name in [n for n in names if n in r]:
    x = r[name]
    label = f"{name} ({x['workers']} worker{'s' if x['workers'] != 1 else ''})" if name.startswith("rs-") else name
    if x["texts"] != base["texts"]:
        label += f" ({x['texts']} texts)"
    if name.startswith("rs-100k"):
        label += f", peak RSS {x['peak_rss_mib']} MiB"
    print(f"| {label} | {x['texts_per_s']:.0f} | {ms(x.get('p50_ms'))} | {ms(x.get('p99_ms'))} "
          f"| {x['texts_per_s']/pipe:.2f}x | {x['texts_per_s']/srt:.2f}x |")
ratio = lambda a, b, key="texts_per_s": r[a][key] / r[b][key]
print(f"\nbatch: ours / sorted loop {ratio('rs-batch-f32', 'py-sorted'):.2f}x"
      + (f", ours / ORT f32 sorted {ratio('rs-batch-f32', 'ort-sorted-fp32'):.2f}x, "
         f"ours / ORT int8 sorted {ratio('rs-batch-f32', 'ort-sorted-int8'):.2f}x" if "ort-sorted-fp32" in r else ""))
single = lambda peer: ratio("rs-single", peer, "p50_ms")
print(f"single-text p50, ours / peer: pipeline {single('py-single'):.2f}, direct {single('py-direct'):.2f}"
      + (f", ORT f32 {single('ort-single-fp32'):.2f}, ORT int8 {single('ort-single-int8'):.2f}" if "ort-single-fp32" in r else "")
      + f" (1 worker vs pipeline: {ratio('rs-single-1-worker', 'py-single', 'p50_ms'):.2f})")
if "ort-sorted-int8" in r:
    print(f"int8: batch ours / ORT int8 sorted {ratio('rs-batch-int8', 'ort-sorted-int8'):.2f}x "
          f"(ours int8 / ours f32 {ratio('rs-batch-int8', 'rs-batch-f32'):.2f}x); single p50 ours / "
          f"ORT int8 {ratio('rs-single-int8', 'ort-single-int8', 'p50_ms'):.2f}")
print(f"small passes: single p50 {ratio('rs-single', 'rs-single-no-small-passes', 'p50_ms'):.2f}x "
      f"(f32), {ratio('rs-single-int8', 'rs-single-int8-no-small-passes', 'p50_ms'):.2f}x (int8) "
      f"the tensor path's")
print(f"batch peak RSS: f32 {r['rs-batch-f32']['peak_rss_mib']} MiB, int8 {r['rs-batch-int8']['peak_rss_mib']} MiB")
print(f"8 callers: dynamic / classify_batch = {ratio('rs-8-callers-dynamic', 'rs-batch-f32'):.2f}x; "
      f"dynamic / no dynamic = {ratio('rs-8-callers-dynamic', 'rs-8-callers-no-dynamic'):.2f}x (defaults), "
      f"{ratio('rs-8-callers-dynamic-1-worker', 'rs-8-callers-no-dynamic-1-worker'):.2f}x (1 worker)")
print(f"tune_malloc: batch {ratio('rs-batch-f32', 'rs-batch-f32-default-malloc'):.2f}x the default malloc's texts/s, "
      f"single p50 {ratio('rs-single', 'rs-single-default-malloc', 'p50_ms'):.2f}x")
for name in ["rs-batch-f32", "rs-8-callers-dynamic", "rs-8-callers-dynamic-1-worker", "rs-single-1-worker"]:
    x = r[name]
    print(f"passes of {name}: {x['texts_per_pass']:.1f} texts, {x['mean_pass_ms']:.1f} ms each, "
          f"{100 * x['padding']:.0f}% padding in attention, workers busy {100 * x['workers_busy']:.0f}%")
def load(p):
    return [json.loads(l)["scores"] for l in open(p)]
py, f32, bf = load(f"{out}/py-scores.jsonl"), load(f"{out}/rs-f32.jsonl"), load(f"{out}/rs-bf16.jsonl")
d32 = max(abs(a[k] - b[k]) for a, b in zip(py, f32) for k in a)
dbf = max(abs(a[k] - b[k]) for a, b in zip(f32, bf) for k in a)
flips = sum((a[k] >= 0.5) != (b[k] >= 0.5) for a, b in zip(f32, bf) for k in a)
print(f"largest score difference: f32 vs transformers {d32:.2e} ({len(f32)} texts); "
      f"bf16 vs f32 {dbf:.4f}, labels flipped at 0.5: {flips} ({len(bf)} texts)")
def change(base, other):
    """Largest score change and decisions flipped at 0.5, of `other` against `base`."""
    largest = max(abs(a[k] - b[k]) for a, b in zip(base, other) for k in a)
    flipped = sum((a[k] >= 0.5) != (b[k] >= 0.5) for a, b in zip(base, other) for k in a)
    return largest, flipped, sum(len(a) for a in base)
i8 = load(f"{out}/rs-int8.jsonl")
largest, flipped, decisions = change(f32, i8)
line = f"int8 vs f32: ours {largest:.4f} largest change, {flipped} of {decisions} decisions flipped at 0.5"
if os.path.exists(f"{out}/ort-int8.jsonl"):
    largest, flipped, _ = change(load(f"{out}/ort-fp32.jsonl"), load(f"{out}/ort-int8.jsonl"))
    line += f"; ORT int8 vs ORT f32 {largest:.4f}, {flipped} flipped"
print(line)
PY
