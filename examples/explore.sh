#!/usr/bin/env bash
# Seed 001's exploration notebook on the demo model, in one command: 70 texts in the
# notebook's 7 categories (examples/diverse_texts.jsonl, written for saex), one vector per
# text (the last token's, as the notebook reads it), every analysis of the notebook, one
# self-contained HTML report; then the notebook's concept finder on five code texts.
#
#   examples/explore.sh [OUT.html]        (default target/demo/explore.html)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/demo/explore.html}"
mkdir -p "$(dirname "$out")"
model="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
# The notebook calls an activation > 5 "strong" for GPT-2's res-jb SAE; the demo SAE's
# activations top out near 2-5, so 1.5 plays that role here.
./target/release/saex explore --model "$model" --sae demo/sae --data examples/diverse_texts.jsonl --strong 1.5 --out "$out"
printf '%s\n' "def function(x): return x + 1" "import numpy as np" "for i in range(10): print(i)" \
  "class MyClass: pass" "if __name__ == '__main__':" > target/demo/concept_code.txt
./target/release/saex concept --model "$model" --sae demo/sae --texts-file target/demo/concept_code.txt --strong 1.0
