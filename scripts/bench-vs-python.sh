#!/usr/bin/env bash
# Side by side with the Python peer, in one run, on the same texts, model and thread count:
# ../shared/peers/hf_pipeline.py (transformers 4.46.3) in its modes pipeline, sorted and single,
# and this crate's examples/throughput in the same roles. Prints one table with texts/s, p50
# latency and the ratios. Installs what it needs (libtorch, the peer's Python packages).
#
#   scripts/bench-vs-python.sh                 # all 5,427 Ekman test texts
#   LIMIT=1000 THREADS=2 scripts/bench-vs-python.sh
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
# Ours with the crate's defaults (on 2+ threads: two workers sharing the weights, a lone pass
# taking every thread), then the same with one worker holding all the threads.
one=(--workers 1)
run rs-batch-f32 "$ours" "$texts" --model "$model" --mode batch --precision f32 "${common[@]}" --out "$out/rs-f32.jsonl"
run rs-batch-f32-1-worker "$ours" "$texts" --model "$model" --mode batch --precision f32 "${one[@]}" "${common[@]}"
# The same without the crate's MKL vendor override (src/cpu/mkl/vendor.rs): stock MKL, as Python
# runs it; and without packed weights (src/cpu/mkl/packed.rs): libtorch's own `linear`.
run rs-batch-f32-stock-mkl env EMOTION_MKL_OVERRIDE=0 "$ours" "$texts" --model "$model" --mode batch --precision f32 "${common[@]}"
run rs-batch-f32-plain-weights "$ours" "$texts" --model "$model" --mode batch --precision f32 --plain-weights "${common[@]}"
# bf16 is emulated (very slow) on CPUs without AVX512-BF16: there, time it on 200 texts only.
bf16_limit=$limit
grep -q avx512_bf16 /proc/cpuinfo || bf16_limit=200
run rs-batch-bf16 "$ours" "$texts" --model "$model" --mode batch --precision bf16 --threads "$threads" --limit "$bf16_limit" --out "$out/rs-bf16.jsonl"
run rs-single "$ours" "$texts" --model "$model" --mode single "${common[@]}"
run rs-single-1-worker "$ours" "$texts" --model "$model" --mode single "${one[@]}" "${common[@]}"
run rs-single-plain-weights "$ours" "$texts" --model "$model" --mode single --plain-weights "${common[@]}"
run rs-8-callers-dynamic "$ours" "$texts" --model "$model" --mode concurrent --callers 8 "${common[@]}"
run rs-8-callers-no-dynamic "$ours" "$texts" --model "$model" --mode concurrent --callers 8 --no-dynamic "${common[@]}"
run rs-8-callers-dynamic-1-worker "$ours" "$texts" --model "$model" --mode concurrent --callers 8 "${one[@]}" "${common[@]}"
run rs-8-callers-no-dynamic-1-worker "$ours" "$texts" --model "$model" --mode concurrent --callers 8 --no-dynamic "${one[@]}" "${common[@]}"

"$py" - "$out" <<'PY'
import json, sys, os, platform
out = sys.argv[1]
r = {n[:-5]: json.load(open(os.path.join(out, n))) for n in os.listdir(out) if n.endswith(".json")}
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = open("/proc/cpuinfo").read()
isa = "AVX512-BF16" if "avx512_bf16" in flags else ("AVX-512" if "avx512f" in flags else "AVX2")
print(f"\nmachine: {cpu}, {os.cpu_count()} cores, best ISA {isa}; threads {r['py-pipeline']['threads']}; texts {r['py-pipeline']['texts']}")
print("| run | texts/s | p50 ms | vs pipeline | vs sorted |")
print("| --- | ---: | ---: | ---: | ---: |")
pipe, srt = r["py-pipeline"]["texts_per_s"], r["py-sorted"]["texts_per_s"]
for name in ["py-pipeline", "py-sorted", "py-single", "rs-batch-f32", "rs-batch-f32-1-worker", "rs-batch-f32-stock-mkl",
             "rs-batch-f32-plain-weights", "rs-batch-bf16", "rs-single", "rs-single-1-worker", "rs-single-plain-weights",
             "rs-8-callers-dynamic", "rs-8-callers-no-dynamic", "rs-8-callers-dynamic-1-worker", "rs-8-callers-no-dynamic-1-worker"]:
    x = r[name]; p50 = x.get("p50_ms")
    label = f"{name} ({x['workers']} worker{'s' if x['workers'] != 1 else ''})" if name.startswith("rs-") else name
    if x["texts"] != r["py-pipeline"]["texts"]:
        label += f" ({x['texts']} texts)"
    print(f"| {label} | {x['texts_per_s']:.0f} | {'' if p50 is None else f'{p50:.2f}'} | {x['texts_per_s']/pipe:.2f}x | {x['texts_per_s']/srt:.2f}x |")
print(f"\nsingle-text p50: ours / pipeline = {r['rs-single']['p50_ms'] / r['py-single']['p50_ms']:.2f} "
      f"(1 worker: {r['rs-single-1-worker']['p50_ms'] / r['py-single']['p50_ms']:.2f})")
dyn = lambda suffix: r[f"rs-8-callers-dynamic{suffix}"]["texts_per_s"] / r[f"rs-8-callers-no-dynamic{suffix}"]["texts_per_s"]
print(f"8 callers: dynamic / no dynamic = {dyn(''):.2f}x (defaults), {dyn('-1-worker'):.2f}x (1 worker)")
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
PY
