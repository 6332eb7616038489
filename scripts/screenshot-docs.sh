#!/usr/bin/env bash
# A picture of emotion-serve's API page (/docs, Swagger UI over /api-doc/openapi.json) as a
# browser shows it: starts a release emotion-serve on the default model (../shared's
# emotion-minilm-ekman, else EMOTION_MODEL), loads the page in headless Chromium (Debian's
# package, installed if missing), and stops the server with SIGTERM.
#
#   scripts/screenshot-docs.sh [OUT.png]       default: docs/serve-docs-page.png
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${1:-docs/serve-docs-page.png}
port=${PORT:-38081}
scripts/setup-libtorch.sh
if ! command -v chromium >/dev/null; then
    apt-get update -q && apt-get install -y -q chromium
fi
model=${EMOTION_MODEL:-$root/../shared/models/emotion-minilm-ekman}
cargo build --quiet --release --features server --bin emotion-serve
source scripts/serve-helpers.sh
start_serve "$port" "$root/target/screenshot-docs.log" --model-id "$model"
# The page's assets come from the server itself (vendored Swagger UI): no network needed.
curl -sf "http://127.0.0.1:$port/docs/" | grep -q swagger
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size=1200,1400 \
    --virtual-time-budget=5000 \
    --screenshot="$root/$out" "http://127.0.0.1:$port/docs/" 2>/dev/null
echo "wrote $out"
