#!/usr/bin/env bash
# emotion-serve under load on loopback, against the library's own classify_batch in the same
# run: examples/serve-load (a bounded Rust load generator: 1, 8 and 64 clients, 1 and 32 texts
# a request, SECONDS each) against a release emotion-serve on the default model with its
# result cache off, so every text is computed. Then huggingface_hub's InferenceClient, as a
# TEI user calls it, against the same server. Prints the CPU and its features, and the table.
#
#   scripts/bench-serve.sh
#   SECONDS_PER_CELL=5 MODEL=../shared/models/tiny-distilbert-emotion scripts/bench-serve.sh
#   PRECISION=int8 scripts/bench-serve.sh       # the server and the library both in int8
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
shared=${SHARED:-$root/../shared}
model=${MODEL:-$shared/models/emotion-minilm-ekman}
seconds=${SECONDS_PER_CELL:-10}
port=${PORT:-38080}
precision=${PRECISION:-f32}
scripts/setup-libtorch.sh
cargo build --quiet --release --features server --bin emotion-serve --example serve-load
source scripts/serve-helpers.sh
start_serve "$port" "$root/target/bench-serve.log" --model-id "$model" --cache-capacity 0 \
    --precision "$precision"
EMOTION_BENCH_MODEL="$model" "$root/target/release/examples/serve-load" \
    --url "http://127.0.0.1:$port" --seconds "$seconds" --precision "$precision" | tee "$root/target/bench-serve.md"

# A TEI user's client: huggingface_hub's InferenceClient pointed at the server.
py="$root/.venv/bin/python"
if ! "$py" -c 'import huggingface_hub' 2>/dev/null; then
    "$root/.venv/bin/pip" install -q --disable-pip-version-check "huggingface_hub>=0.26"
fi
"$py" - "http://127.0.0.1:$port" <<'PY'
import sys
from huggingface_hub import InferenceClient
client = InferenceClient(base_url=sys.argv[1])
got = client.text_classification("I can't wait to see you, this is wonderful!")
print("InferenceClient.text_classification:", got)
# Against TEI's flat list for one input, the client returns its first (top) element.
top = got[0] if isinstance(got, list) else got
assert top.label == "joy", got
assert 0.5 <= top.score <= 1.0, got
PY
kill -TERM "$server"
wait "$server"
echo "emotion-serve exited $? after SIGTERM"
trap - EXIT
