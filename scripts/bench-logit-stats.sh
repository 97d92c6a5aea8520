#!/usr/bin/env bash
# Seed 004's logit-weight statistics, saex against numpy and torch doing the same in the same
# run (each process loads its weights inside the timed run):
#  - the demo SAE's 4,096 features over Gemma 3 270M's 262,144-token vocabulary;
#  - a GPT-2-small-shaped case: 24,576 random features over a random 50,257 × 768 W_U.
# Also checks the three agree (moments, top tokens). Writes the "logit-stats" section of
# BENCHMARKS.md. Needs the reference venv (numpy, torch, safetensors, gguf): SAEX_PY.
#
#   scripts/bench-logit-stats.sh [--out DIR] [--benchmarks FILE|-] [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
runs=3
args=()
while [ $# -gt 0 ]; do case "$1" in --runs) runs="$2"; shift 2 ;; *) args+=("$1"); shift ;; esac; done
bench_parse "${args[@]+"${args[@]}"}"
bench_need hyperfine hyperfine
py="${SAEX_PY:-/work/venv-ref/bin/python}"
[ -x "$py" ] || { echo "error: set SAEX_PY to a python with numpy, torch, safetensors, gguf" >&2; exit 2; }
out="$(realpath "$bench_out")"
gemma="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
saex="$PWD/target/release/saex"
conditions="$(bench_conditions)"

echo "preparing: unembeddings for the peers, the GPT-2-shaped model and SAE" >&2
[ -f "$out/gemma_u.npz" ] || "$py" bench/dump_unembed.py "$gemma" "$out/gemma_u.npz"
[ -d "$out/gpt2-small" ] || "$py" bench/make_gpt2_small.py "$out/gpt2-small"
[ -d "$out/sae-24576" ] || "$py" bench/make_sae.py "$out/sae-24576"
[ -f "$out/gpt2_u.npz" ] || "$py" bench/dump_unembed.py "$out/gpt2-small" "$out/gpt2_u.npz"

for case in demo gpt2; do
  if [ "$case" = demo ]; then model="$gemma"; sae="$PWD/demo/sae"; u="$out/gemma_u.npz"; else model="$out/gpt2-small"; sae="$out/sae-24576"; u="$out/gpt2_u.npz"; fi
  echo "$case: saex, numpy, torch, $runs runs each (alternating)" >&2
  # The answers compared (kept across reruns of the script, like the prepared inputs).
  [ -s "$out/$case-saex.json" ] || "$saex" logit-stats --model "$model" --sae "$sae" --json > "$out/$case-saex.json"
  [ -s "$out/$case-numpy.json" ] || "$py" bench/python_logit_stats.py --sae "$sae" --unembed "$u" --engine numpy --out "$out/$case-numpy.json" 2>/dev/null
  hyperfine -N -r "$runs" --export-json "$out/$case-time.json" \
    -n saex "$saex logit-stats --model $model --sae $sae --json" \
    -n numpy "$py bench/python_logit_stats.py --sae $sae --unembed $u --engine numpy" \
    -n torch "$py bench/python_logit_stats.py --sae $sae --unembed $u --engine torch" > /dev/null
  /usr/bin/time -f '%M' -o "$out/$case-rss" "$saex" logit-stats --model "$model" --sae "$sae" --json > /dev/null
done
"$py" bench/report_logit_stats.py "$out" "$conditions" > "$out/logit-stats.md"
bench_write logit-stats "$out/logit-stats.md"
