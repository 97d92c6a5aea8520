#!/usr/bin/env bash
# The one-engine rule, checked: no crate above saex-engine (the faces and the pure crates)
# runs the model or an SAE itself. Model work goes face → engine → model; a face that called
# `Model::forward`/`run`/`generate` or an SAE's encode directly would be a second engine.
#
# Checked: the library source of cli, server, analysis, report, labels (and python, index when
# present). Tests may call anything.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='\.(forward|run|run_edited|run_chunked|generate|generate_with|generate_edited)\(|\.encode_sparse\(|\.encode_restricted\(|\.encode_dense\(|saex_sae::Sae::encode|Sae::load|Model::load'
dirs=()
for c in cli server analysis report python index labels; do
  [ -d "crates/$c/src" ] && dirs+=("crates/$c/src")
done
# `Sae::load` is allowed in sae-info and neighbors (an SAE's weights alone, no model, nothing run).
hits=$(grep -rnE "$pattern" "${dirs[@]}" | grep -vE '^crates/cli/src/(sae_info|neighbors)\.rs:.*Sae::load|^crates/cli/src/train\.rs:.*Model::load' || true)
# `.run(` also matches non-model calls; keep only lines that touch a model or SAE value.
hits=$(printf '%s\n' "$hits" | grep -E 'model|sae|Model|Sae' || true)
if [ -n "$hits" ]; then
  echo "layering: these lines above saex-engine run the model or an SAE directly; call the engine instead:" >&2
  printf '%s\n' "$hits" >&2
  exit 1
fi
echo "layering: ok (${dirs[*]})"
