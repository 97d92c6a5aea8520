"""The logit-stats section of BENCHMARKS.md from scripts/bench-logit-stats.sh's outputs."""
import json
import os
import sys

import numpy as np

out, conditions = sys.argv[1], sys.argv[2]
j = lambda name: json.load(open(os.path.join(out, name)))


def agreement(case):
    s = {f["feature_id"]: f for f in j(f"{case}-saex.json")["features"]}
    n = j(f"{case}-numpy.json")
    rel = {k: max(abs(s[f["feature_id"]][k] - f[k]) / max(abs(f[k]), 1e-3) for f in n) for k in ("std", "skewness", "kurtosis")}
    same = sum([t["token_id"] for t in s[f["feature_id"]]["boosted"]] == f["boosted"] for f in n)
    return rel, same, len(n)


rows, notes = [], []
for case, label in (("demo", "demo SAE, 4,096 × 640 over Gemma 3's 262,144 tokens"), ("gpt2", "GPT-2-shaped, 24,576 × 768 over 50,257 tokens")):
    t = {r["command"]: r for r in j(f"{case}-time.json")["results"]}
    rss = int(open(os.path.join(out, f"{case}-rss")).read().split()[0]) / 1024 / 1024
    med = lambda n: t[n]["median"]
    rows.append(f"| {label} | {med('saex'):.1f} s | {med('numpy'):.1f} s | {med('torch'):.1f} s | "
                f"{med('numpy') / med('saex'):.2f}× / {med('torch') / med('saex'):.2f}× | {rss:.2f} GiB |")
    rel, same, n = agreement(case)
    notes.append(f"{case}: largest relative difference saex vs numpy: std {rel['std']:.1e}, skewness {rel['skewness']:.1e}, "
                 f"kurtosis {rel['kurtosis']:.1e}; identical top-10 boosted tokens for {same:,} of {n:,} features")
print(f"""## Logit-weight statistics (`scripts/bench-logit-stats.sh`)

{conditions}
`saex logit-stats --json` against numpy (f64 moments, as saex) and torch (f32, as seed 004's
helper) computing the same statistics blockwise (`bench/python_logit_stats.py`), each process
loading its own weights inside the timed run; median of the runs (hyperfine). saex's peak
RSS from `/usr/bin/time`.

| case | saex | numpy | torch | saex speed-up (numpy / torch) | saex peak RSS |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Agreement: {'; '.join(notes)}.
""")
