#!/usr/bin/env bash
# A picture of the `--explain-html` page, as a reader of docs/EXPLAIN.md sees it: explains a few
# texts with the default model (../shared's emotion-minilm-ekman, else EMOTION_MODEL), writes the
# page, and takes a screenshot with headless Chromium (Debian's package, installed if missing).
#
#   scripts/screenshot-explain.sh [OUT.png]       default: docs/explain-page.png
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=${1:-docs/explain-page.png}
scripts/setup-libtorch.sh
if ! command -v chromium >/dev/null; then
    apt-get update -q && apt-get install -y -q chromium
fi
model=${EMOTION_MODEL:-$root/../shared/models/emotion-minilm-ekman}
page=$(mktemp -d)/explain.html
cargo run --quiet --example classify -- --model "$model" --explain-html "$page" \
    "I can't believe they cancelled it, I'm furious" \
    "I'm terrified of the dark" \
    "What a lovely surprise, thank you so much!"
profile=$(mktemp -d)
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size=900,520 \
    --screenshot="$root/$out" "file://$page" 2>/dev/null
echo "wrote $out"
