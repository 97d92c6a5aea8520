#!/usr/bin/env bash
# Soak: `saex serve` (Gemma 3 270M + the demo SAE + the demo's corpus index, labels in a
# scratch registry) on loopback under 50 concurrent clients for 10 minutes, each cycling
# through every route (crates/server/examples/soak.rs over fuzz/seeds/http.txt), every 20th
# request a 1,000-token generation the client hangs up on after 300 ms. The server's RSS and
# open file descriptors are sampled every 5 s. Writes the "soak" section of BENCHMARKS.md:
# per route requests, status classes and latency, errors (broken connections, 5xx), the
# RSS/fd series' first and last minute, and whether the server lived to the end.
#
#   scripts/soak.sh [--out DIR] [--benchmarks FILE|-] [--clients 50] [--secs 600]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
clients=50 secs=600 rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2"; shift 2 ;;
    --secs) secs="$2"; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
bench_parse "${rest[@]+"${rest[@]}"}"
out="$(realpath "$bench_out")"
gemma="$(scripts/fetch-models.sh gemma3)"
index="${SAEX_DEMO_INDEX:-$HOME/.cache/saex/demo-index}"
[ -f "$index/manifest.json" ] || { echo "error: no demo index at $index: run ./demo.sh first (or set SAEX_DEMO_INDEX)" >&2; exit 2; }
cargo build --release -q -p saex
cargo build --release -q -p saex-server --example soak
tdir="${CARGO_TARGET_DIR:-$PWD/target}"
saex="$tdir/release/saex"
conditions="$(bench_conditions)"
reg="$(mktemp -d)"
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; rm -rf "$reg"' EXIT

"$saex" serve --addr 127.0.0.1:0 --model "$gemma" --sae demo/sae --index "$index" --registry "$reg" \
  --neuronpedia-url http://127.0.0.1:9 --no-cache 2> "$out/soak_serve.log" &
pid=$!
for _ in $(seq 600); do grep -q listening "$out/soak_serve.log" && break; sleep 0.1; done
addr=$(grep -o '127.0.0.1:[0-9]*' "$out/soak_serve.log" | head -1)
[ -n "$addr" ] || { echo "error: saex serve did not start: $(cat "$out/soak_serve.log")" >&2; exit 2; }
ids="$(python3 - "$addr" <<'PY'
import json, sys, urllib.parse, urllib.request
m = json.load(urllib.request.urlopen(f"http://{sys.argv[1]}/v1/models"))
np = m["neuronpedia"]
sae = m["saes"][0]["sae_id"]
print(np["model"], np["sources"][0]["id"], np["source_sets"][0], urllib.parse.quote(sae, safe=""))
PY
)"
read -r model source set sae <<< "$ids"

: > "$out/soak_samples.tsv"
( while kill -0 "$pid" 2>/dev/null; do
    printf '%s\t%s\t%s\n' "$(date +%s)" "$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null)" "$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)" >> "$out/soak_samples.tsv"
    sleep 5
  done ) &
sampler=$!
echo "soak: $clients clients for ${secs}s on $addr" >&2
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
"$tdir/release/examples/soak" --addr "$addr" --clients "$clients" --secs "$secs" --requests fuzz/seeds/http.txt \
  --model "$model" --source "$source" --set "$set" --sae "$sae" > "$out/soak.json"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
sleep 6 # one more sample after the load
alive=yes
kill -0 "$pid" 2>/dev/null || alive=no
kill "$sampler" 2>/dev/null || true
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

python3 - "$out/soak.json" "$out/soak_samples.tsv" "$alive" "$conditions" "$load_before" "$load_after" > "$out/soak.md" <<'PY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))
samples = [l.split("\t") for l in open(sys.argv[2]).read().splitlines() if l.count("\t") == 2 and l.split("\t")[1]]
alive, conditions, before, after = sys.argv[3:]
t0 = int(samples[0][0])
rss = [(int(t) - t0, int(k) / 1024, int(f)) for t, k, f in samples]
first = [x for x in rss if x[0] <= 60]
last = [x for x in rss if x[0] >= rss[-1][0] - 60]
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
print(f"RSS (MiB) first minute median {med(first, 1):.0f}, last minute median {med(last, 1):.0f}, max {max(x[1] for x in rss):.0f}; "
      f"open file descriptors first minute median {med(first, 2):.0f}, last minute median {med(last, 2):.0f}, max {max(x[2] for x in rss)} "
      f"({len(rss)} samples, every 5 s).")
PY
bench_write soak "$out/soak.md"
