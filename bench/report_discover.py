"""The discover section of BENCHMARKS.md from scripts/bench-discover.sh's outputs: min /
median / max of every figure, and a baseline column when a baseline binary was measured."""
import json
import os
import sys

out, versions, conditions = sys.argv[1], sys.argv[2], sys.argv[3]
baseline = len(sys.argv) > 4 and sys.argv[4] == "baseline"
j = lambda name: json.load(open(f"{out}/{name}"))
warm, cached, conc = j("warm1.json"), j("warm1_cached.json"), j("conc8.json")
clis = j("discover_cli.json")["results"]
cli = clis[0]
py_cli = j("py_cli.json")["results"][0]
py = j("py_warm.json")
ours = [f["feature_id"] for f in j("saex_once.json")["features"]]
theirs = j("py_once.json")["features"]
same = len(set(ours) & set(theirs))


def lat(d):  # a load-client result: min / median / max
    return f"{d['min_ms']:.0f} / **{d['p50_ms']:.0f}** / {d['max_ms']:.0f} ms"


def hf(r):  # a hyperfine result, in ms
    return f"{r['min'] * 1e3:,.0f} / **{r['median'] * 1e3:,.0f}** / {r['max'] * 1e3:,.0f} ms"


rows = [
    ("warm request, no cache (20 requests)", lat(warm), f"{py['min_ms']:.0f} / **{py['p50_ms']:.0f}** / {py['max_ms']:.0f} ms (function call)",
     f"**{py['p50_ms'] / warm['p50_ms']:.1f}×**", "base_warm1.json"),
    ("warm, capture cached (20 requests)", f"{cached['min_ms']:.1f} / **{cached['p50_ms']:.1f}** / {cached['max_ms']:.1f} ms", "–", "", "base_warm1_cached.json"),
    ("cold CLI: start, load, discover, exit (5 runs; Python 3)", hf(cli), hf(py_cli), f"**{py_cli['median'] / cli['median']:.1f}×**", None),
    ("8 clients, 64 requests over 29 texts, 2 permits", f"p50 {conc['p50_ms']:.0f}, p95 {conc['p95_ms']:.0f}, max {conc['max_ms']:.0f} ms; {conc['requests_per_s']:.2f} req/s, {conc['errors']} errors",
     "–", "", "base_conc8.json"),
]
head = "| measurement (min / **median** / max) | saex | Python stack | saex faster by |"
sep = "|---|---|---|---|"
if baseline:
    head += " baseline saex (before) |"
    sep += "---|"
lines = [head, sep]
for name, ours_, theirs_, ratio, base in rows:
    line = f"| {name} | {ours_} | {theirs_} | {ratio} |"
    if baseline:
        if base is None:
            b = hf(clis[1])
        elif base == "base_conc8.json":
            d = j(base)
            b = f"p50 {d['p50_ms']:.0f}, p95 {d['p95_ms']:.0f}, max {d['max_ms']:.0f} ms; {d['requests_per_s']:.2f} req/s"
        else:
            d = j(base)
            b = f"{d['min_ms']:.1f} / **{d['p50_ms']:.1f}** / {d['max_ms']:.1f} ms"
        line += f" {b} |"
    lines.append(line)
table = "\n".join(lines)
print(f"""## discover: one 128-token text (`scripts/bench-discover.sh`)

{conditions}
Gemma 3 270M (GGUF Q4_K_M) + the demo SAE, `saex discover` defaults (entropy pre-filter on
the model's logits, so the whole model runs; τ = reference P95; mean×coverage; top 25 with
spans), served over loopback HTTP. The Python column runs the same algorithm with {versions}
(`bench/python_discover.py`: HF transformers on the same GGUF, dequantized, + SAELens),
2 torch threads, as a warm function call. Same machine, same run.

{table}

Same text, both stacks: {same} of saex's {len(ours)} returned features are among the Python
run's {len(theirs)} (Q4_K_M dequantization and float order differ slightly between the stacks).
""")
