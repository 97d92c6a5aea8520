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
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$reg"' EXIT

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

python3 scripts/soak-report.py "$out/soak.json" "$out/soak_samples.tsv" "$alive" "$conditions" "$load_before" "$load_after" > "$out/soak.md"
bench_write soak "$out/soak.md"
