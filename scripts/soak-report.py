"""The "soak" section of BENCHMARKS.md from scripts/soak.sh's files: the client's per-route
report (soak.json), the server's RSS and open-fd samples (soak_samples.tsv: unix time, VmRSS
KiB, fds), whether it lived, and the machine's conditions.

usage: soak-report.py soak.json soak_samples.tsv alive conditions load_before load_after
"""
import json, statistics, sys
r = json.load(open(sys.argv[1]))
samples = [l.split("\t") for l in open(sys.argv[2]).read().splitlines() if l.count("\t") == 2 and l.split("\t")[1]]
alive, conditions, before, after = sys.argv[3:]
t0 = int(samples[0][0])
rss = [(int(t) - t0, int(k) / 1024, int(f)) for t, k, f in samples]
med = lambda xs, i: statistics.median(x[i] for x in xs)
print("### Soak: every route, 50 clients, 10 minutes\n")
print(f"{conditions} Load average at the end: {after}.\n")
print(f"`scripts/soak.sh`: `saex serve` (Gemma 3 270M Q4_K_M + the demo SAE + the demo's corpus index, defaults: "
      f"2 model slots, 120 s limit, 1 MiB bodies) on loopback; {r['clients']} client threads "
      f"(`crates/server/examples/soak.rs`) for {r['secs']:.0f} s, each cycling through all {len(r['routes'])} routes "
      f"(`fuzz/seeds/http.txt`: saex's and Neuronpedia's, label writes included), every 20th request a 1,000-token "
      f"generation hung up on after 300 ms ({r['hung_up']} of them). Latency includes the wait for a model slot.\n")
print("| route | requests | answers | p50 ms | p95 ms | max ms |")
print("|---|---:|---|---:|---:|---:|")
errors = total = 0
for k, s in sorted(r["routes"].items()):
    total += s["count"]
    errors += sum(n for c, n in s["classes"].items() if c.startswith("error"))
    classes = ", ".join(f"{c}: {n}" for c, n in sorted(s["classes"].items()))
    print(f"| `{k}` | {s['count']} | {classes} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['max_ms']:.0f} |")
print()
print(f"**{total} requests, {errors} errors** (broken connections or 5xx other than 503/504); the server "
      + ("answered to the end." if alive == "yes" else "**died**."))
# Flat means: after the first requests have loaded what they load (the first minute), no
# minute's median stays above the ones before it. Shown per minute, so a reader sees it.
during = [x for x in rss if x[0] < r["secs"]]
after_load = rss[-1]
minutes = sorted({x[0] // 60 for x in during})
per_min = [(m, [x for x in during if x[0] // 60 == m]) for m in minutes]
rss_row = " · ".join(f"{med(xs, 1):.0f}" for _, xs in per_min)
fd_row = " · ".join(f"{med(xs, 2):.0f}" for _, xs in per_min)
print(f"Server RSS, median of each minute (MiB): {rss_row}; max {max(x[1] for x in rss):.0f}. "
      f"Open file descriptors, median of each minute: {fd_row}; max {max(x[2] for x in rss)} "
      f"({len(during)} samples, every 5 s; the first minute includes the start-up). After the load: "
      f"RSS {after_load[1]:.0f} MiB, {after_load[2]} fds.")
chat = r["routes"].get("POST /v1/steer/completion-chat", {}).get("classes", {})
if any(c.startswith("4xx") for c in chat):
    print("\n`/v1/steer/completion-chat` answers 400 by design here: the pretrained Gemma 3 270M GGUF has no "
          "chat template, and the route says so (\"… has no chat template, so it cannot accept chat messages\").")
