#!/usr/bin/env bash
# Neuronpedia's inference API under load: `saex serve` (Gemma 3 270M + the demo SAE, with a
# secret) on loopback, 50 concurrent clients for 60 s mixing POST /v1/activation/all,
# /v1/activation/topk-by-token and /v1/steer/completion (16 tokens, STEERED + DEFAULT),
# the server's RSS sampled every second; before it, one client for 20 s (each route's cost
# without queueing). The server's time limit is 600 s, so a request that waits in the queue
# longer than the default 120 s is measured, not dropped. Writes the "neuronpedia" section of
# BENCHMARKS.md: per route p50/p95/max and errors, crashes, RSS min/median/max, load average.
#
#   scripts/bench-neuronpedia.sh [--out DIR] [--benchmarks FILE|-] [--clients N] [--secs S] [--max-concurrent N]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
clients=50 secs=60 maxc=2 rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients="$2"; shift 2 ;;
    --secs) secs="$2"; shift 2 ;;
    --max-concurrent) maxc="$2"; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
bench_parse "${rest[@]+"${rest[@]}"}"
out="$bench_out"
gemma="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
cargo build --release -q -p saex-server --example np_load
tdir="${CARGO_TARGET_DIR:-$PWD/target}"
saex="$tdir/release/saex"
load="$tdir/release/examples/np_load"
conditions="$(bench_conditions)"

export SAEX_BENCH_SECRET="bench-$$-$RANDOM"
"$saex" serve --addr 127.0.0.1:0 --model "$gemma" --sae demo/sae --max-concurrent "$maxc" --secret-env SAEX_BENCH_SECRET \
  --timeout-secs 600 --no-cache 2> "$out/np_serve.log" &
pid=$!
for _ in $(seq 600); do grep -q listening "$out/np_serve.log" && break; sleep 0.1; done
addr=$(grep -o '127.0.0.1:[0-9]*' "$out/np_serve.log" | head -1)
[ -n "$addr" ] || { echo "error: saex serve did not start: $(cat "$out/np_serve.log")" >&2; exit 2; }

# RSS every second while the load runs.
: > "$out/np_rss.txt"
( while kill -0 "$pid" 2>/dev/null; do awk '/VmRSS/ {print $2}' "/proc/$pid/status" >> "$out/np_rss.txt" 2>/dev/null || true; sleep 1; done ) &
sampler=$!
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")

echo "warm-up, then $clients clients for ${secs}s on $addr" >&2
"$load" --addr "$addr" --secret "$SAEX_BENCH_SECRET" --clients 3 --secs 3 > /dev/null
"$load" --addr "$addr" --secret "$SAEX_BENCH_SECRET" --clients 1 --secs 20 > "$out/np_load1.json"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
"$load" --addr "$addr" --secret "$SAEX_BENCH_SECRET" --clients "$clients" --secs "$secs" > "$out/np_load.json"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
alive=yes
kill -0 "$pid" 2>/dev/null || alive=no
kill "$sampler" 2>/dev/null || true
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true

python3 - "$out/np_load.json" "$out/np_load1.json" "$out/np_rss.txt" "$idle_rss" "$alive" "$conditions" "$load_before" "$load_after" "$maxc" > "$out/neuronpedia.md" <<'PY'
import json, statistics, sys
load, load1, rss_file, idle, alive, conditions, before, after, maxc = sys.argv[1:]
r = json.load(open(load))
one = json.load(open(load1))
rss = [int(x) / 1024 for x in open(rss_file).read().split() if x.strip()]
print(f"### Neuronpedia's inference API under load\n")
print(f"{conditions} Load average when the {r['secs']} s run of {r['clients']} clients started: {before}; when it ended: {after}.\n")
print(f"`scripts/bench-neuronpedia.sh`: `saex serve` (Gemma 3 270M Q4_K_M + the demo SAE, `--max-concurrent {maxc} --timeout-secs 600`, "
      f"secret checked) on loopback; {r['clients']} client threads (`crates/server/examples/np_load.rs`, one connection "
      "per request) for " f"{r['secs']} s, each sending in turn `activation/all` (25 rows), `topk-by-token` (k 5) and "
      "`steer/completion` (STEERED + DEFAULT, 16 tokens each, temperature 0.7) on four rotating prompts of 13-27 tokens. "
      "Latency includes the wait for one of the model slots.\n")
print("| route | requests | errors | p50 ms | p95 ms | max ms | one client alone: p50 ms |")
print("|---|---:|---:|---:|---:|---:|---:|")
errors = 0
for name in ["activation/all", "topk-by-token", "steer/completion"]:
    s = r[name]
    errors += s["errors"] + one[name]["errors"]
    print(f"| `{name}` | {s['ok'] + s['errors']} | {s['errors']} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['max_ms']:.0f} | {one[name]['p50_ms']:.0f} |")
print()
crash = "none (the server answered to the end)" if alive == "yes" else "**the server died**"
print(f"Errors: {errors}. Crashes: {crash}. Server RSS (sampled every second, {len(rss)} samples): idle "
      f"{int(idle) / 1024:.0f} MiB before the run; during it min {min(rss):.0f}, median {statistics.median(rss):.0f}, "
      f"max {max(rss):.0f} MiB.\n")
print("Neuronpedia's own Python server could not be run here (it needs PyTorch, TransformerLens/SAELens and a GPU "
      "for its defaults); its documentation and issues publish no latency or throughput figures to compare with.\n")
PY
bench_write neuronpedia "$out/neuronpedia.md"
