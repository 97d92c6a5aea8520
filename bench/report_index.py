"""The index section of BENCHMARKS.md from scripts/bench-index.sh's outputs."""
import json
import os
import sys

out, conditions, ix = sys.argv[1], sys.argv[2], sys.argv[3]
j = lambda name: json.load(open(os.path.join(out, name)))
ov = j("index_overhead.json")
rss = [l.split() for l in open(os.path.join(out, "index_rss.tsv")) if l.strip()]
m = json.load(open(os.path.join(ix, "manifest.json")))
size = sum(f["bytes"] for f in m["files"])
t1m = open(os.path.join(out, "time-1m")).read().split() if os.path.exists(os.path.join(out, "time-1m")) else None
tt, fe = j("top_texts.json")["results"][0], j("feature.json")["results"][0]
ms = lambda r: f"{r['min'] * 1e3:.1f} / **{r['median'] * 1e3:.1f}** / {r['max'] * 1e3:.1f} ms"
rows = "\n".join(f"| {int(n):,} | {int(kb) / 1024 / 1024:.2f} GiB | {float(s):.0f} s ({int(n) / float(s):,.0f} tokens/s) |" for n, kb, s in rss)
built = f"built in {float(t1m[1]):.0f} s at {int(t1m[0]) / 1024 / 1024:.2f} GiB peak RSS, " if t1m else ""
print(f"""## Corpus activation index (`scripts/bench-index.sh`)

{conditions}
Gemma 3 270M (GGUF Q4_K_M) + the demo SAE (d_sae 4,096, layer 6) over the saex corpus
(`corpus/manifest.json`), blocks of 16 documents of at most 128 tokens.

**What the index costs.** The same {ov['tokens']:,} tokens in the same blocks, median of 3 runs
each, alternating (`cargo bench -p saex-engine --bench index_overhead`): the model and the SAE
alone {ov['model_encode_tokens_per_s']:,.0f} tokens/s; a whole `index build` (tokenizing,
sketching, writing Parquet, no logit table) {ov['index_tokens_per_s']:,.0f} tokens/s:
**{100 * ov['overhead']:.1f}% overhead** (target ≤ 10%).

**Memory does not grow with the corpus** (`/usr/bin/time`, peak RSS of `saex index build --no-logits`):

| tokens indexed | peak RSS | wall time |
|---:|---:|---:|
{rows}

**Queries, cold process**, on a {m['corpus']['tokens']:,}-token index ({m['corpus']['docs']:,} documents;
{built}{size / 1e6:.0f} MB on disk), 30 runs each (hyperfine, min / **median** / max):

| query | latency |
|---|---:|
| `saex top-texts --index DIR --feature 3523 --k 20 --json` | {ms(tt)} |
| `saex feature --index DIR 3523 --json` (stats, histogram, categories, 70 examples, logit tokens) | {ms(fe)} |
""")
