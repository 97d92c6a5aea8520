#!/usr/bin/env bash
# The corpus activation index (Gemma 3 270M + the demo SAE over the saex corpus), in one run:
#  - what the index costs on top of the model and the SAE (same documents, same blocks);
#  - peak RSS of `index build` at three corpus sizes (memory must not grow with the corpus);
#  - `top-texts --index` and `feature` latency, cold process, on a 1M-token index.
# Writes the "index" section of BENCHMARKS.md.
#
#   scripts/bench-index.sh [--out DIR] [--benchmarks FILE|-]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_parse "$@"
bench_need hyperfine hyperfine
bench_need /usr/bin/time time
out="$bench_out"
gemma="$(scripts/fetch-models.sh gemma3)"
corpus="${SAEX_CORPUS:-$HOME/.cache/saex/corpus/corpus.jsonl}"
cargo build --release -q -p saex
cargo bench -q -p saex-engine --bench index_overhead --no-run 2>/dev/null
ov="$(ls -t target/release/deps/index_overhead-* | grep -v '\.d$' | head -1)"
saex="$PWD/target/release/saex"
if [ ! -f "$corpus" ]; then
  scripts/fetch-corpus.sh
  mkdir -p "$(dirname "$corpus")"
  "$saex" corpus build --src "${SAEX_CORPUS_SRC:-$HOME/.cache/saex/corpus-src}" --model "$gemma" --out "$corpus" --max-tokens-per-category 600000 >/dev/null
fi
conditions="$(bench_conditions)"

echo "1/3 index overhead: model + SAE alone vs a whole index build, 20,000 tokens, 3 runs each" >&2
"$ov" --model "$gemma" --sae demo/sae --corpus "$corpus" --max-tokens 20000 --repeat 3 > "$out/index_overhead.json"

echo "2/3 peak RSS of index build at 25k, 100k, 400k tokens (no logit table)" >&2
: > "$out/index_rss.tsv"
for n in 25000 100000 400000; do
  rm -rf "$out/ix-$n"
  /usr/bin/time -f '%M %e' -o "$out/time-$n" "$saex" index build --model "$gemma" --sae demo/sae --corpus "$corpus" \
    --out "$out/ix-$n" --max-tokens "$n" --no-logits > /dev/null
  printf '%s\t%s\n' "$n" "$(cat "$out/time-$n")" >> "$out/index_rss.tsv"
  rm -rf "$out/ix-$n"
done

echo "3/3 a 1M-token index (with logit table), then cold top-texts / feature queries" >&2
ix="$out/ix-1m"
[ -f "$ix/manifest.json" ] || /usr/bin/time -f '%M %e' -o "$out/time-1m" "$saex" index build --model "$gemma" --sae demo/sae \
  --corpus "$corpus" --out "$ix" --max-tokens 1000000 > /dev/null
feature=3523 # the demo SAE's `config` feature
hyperfine -N -w 3 -r 30 --export-json "$out/top_texts.json" "$saex top-texts --index $ix --feature $feature --k 20 --json" > /dev/null
hyperfine -N -w 3 -r 30 --export-json "$out/feature.json" "$saex feature --index $ix $feature --json" > /dev/null
python3 bench/report_index.py "$out" "$conditions" "$ix" > "$out/index.md"
bench_write index "$out/index.md"
