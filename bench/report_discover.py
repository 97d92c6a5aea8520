"""The discover section of BENCHMARKS.md from scripts/bench-discover.sh's outputs."""
import json
import sys

out, versions = sys.argv[1], sys.argv[2]
j = lambda name: json.load(open(f"{out}/{name}"))
warm, cached, conc = j("warm1.json"), j("warm1_cached.json"), j("conc8.json")
cli = j("discover_cli.json")["results"][0]
py_cli = j("py_cli.json")["results"][0]
py = j("py_warm.json")
ours = [f["feature_id"] for f in j("saex_once.json")["features"]]
theirs = j("py_once.json")["features"]
same = len(set(ours) & set(theirs))
ms = lambda s: f"{s * 1e3:,.0f} ms"
print(f"""## discover: one 128-token text (`scripts/bench-discover.sh`)

Gemma 3 270M (GGUF Q4_K_M) + the demo SAE, `saex discover` defaults (entropy pre-filter on
the model's logits, so the whole model runs; τ = reference P95; mean×coverage; top 25 with
spans). The Python column runs the same algorithm with {versions}
(`bench/python_discover.py`: HF transformers on the same GGUF, dequantized, + SAELens),
2 torch threads. Same machine, same run; medians.

| measurement | saex | Python stack | ratio |
|---|---|---|---|
| warm: one request / call, no cache (p50 of 20) | {warm['p50_ms']:.0f} ms (server, loopback HTTP) | {py['p50_ms']:.0f} ms (function call) | **{py['p50_ms'] / warm['p50_ms']:.1f}×** |
| warm, capture cached (p50 of 20) | {cached['p50_ms']:.1f} ms | – | |
| cold CLI: start, load, discover, exit (median of 5; Python 3) | {ms(cli['median'])} | {ms(py_cli['median'])} | **{py_cli['median'] / cli['median']:.1f}×** |
| 8 concurrent clients, 64 requests over 29 texts, 2 permits: p50 / p95 | {conc['p50_ms']:.0f} / {conc['p95_ms']:.0f} ms ({conc['requests_per_s']:.2f} req/s, {conc['errors']} errors) | – | |

Same text, both stacks: {same} of saex's {len(ours)} returned features are among the Python
run's {len(theirs)} (Q4_K_M dequantization and float order differ slightly between the stacks).
""")
