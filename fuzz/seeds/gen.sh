#!/usr/bin/env bash
# Regenerates the fuzz seeds that saex itself writes, with the tiny GPT-2 fixture and its SAE
# (so they stay a few KB): a corpus index, a groups directory, a label registry, and
# Neuronpedia-shaped explanation exports (JSON, JSONL, gzipped JSONL).
# corpus.jsonl (33 short lines of the real corpus, 3 per category), items.jsonl,
# catalog.jsonl (demo/sae/labels.jsonl's first lines, one in Neuronpedia's shape) and http.txt
# are kept by hand; tiny-*.gguf come from gen_gguf.py.
#
#   fuzz/seeds/gen.sh   (from the repo root, after `cargo build --release -p saex`)
set -euo pipefail
cd "$(dirname "$0")/../.."
saex=target/release/saex
model=fixtures/parity/tiny/gpt2
sae=fixtures/models/tiny-gpt2-l1
seeds=fuzz/seeds
rm -rf "$seeds/index" "$seeds/groups" "$seeds/.labels"
"$saex" index build --model "$model" --sae "$sae" --corpus "$seeds/corpus.jsonl" --out "$seeds/index" --top-k 4 --quantile-bins 3 --per-bin 2 --ctx 8 --max-tokens 2000 >/dev/null
"$saex" groups build --model "$model" --sae "$sae" --data "$seeds/items.jsonl" --out "$seeds/groups" --strategy mean >/dev/null
reg="$seeds/.labels"
"$saex" label set --registry "$reg" --sae "$sae" 3 --name greetings --description "fires on hello" --example "Hello" --confidence high --notes "hand-read" >/dev/null
"$saex" label set --registry "$reg" --sae "$sae" 7 --name dates --description "dates and years" --confidence low >/dev/null
cp "$(find "$reg" -name '*.json' | head -1)" "$seeds/registry.json"
rm -rf "$reg"
row() { printf '{"id":"cl%s","modelId":"gpt2-small","layer":"1-res-tiny","index":"%s","description":"%s","authorId":"a","typeName":"oai_token-act-pair","explanationModelName":"gpt-4o-mini","embedding":[0.1,0.2],"umap_x":1.0,"scoreV1":%s,"scoreV2":null,"createdAt":"2024-07-01T00:00:00.000Z"}' "$1" "$1" "$2" "$3"; }
{ row 1 dates 0.5; echo; row 2 "city names" 0.7; echo; echo; row 3 "code" 0.1; echo; } > "$seeds/explanations.jsonl"
gzip -n -c "$seeds/explanations.jsonl" > "$seeds/explanations.jsonl.gz"
{ echo "["; row 7 code 0.2; echo ","; row 8 maths 0.3; echo "]"; } > "$seeds/explanations.json"
du -sh "$seeds"
