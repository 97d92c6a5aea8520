#!/usr/bin/env bash
# Discovery latency: one 128-token text through `saex discover` (default options: entropy
# pre-filter, which runs the whole model for its logits) on Gemma 3 270M + the demo SAE —
# warm server, cold CLI, 8 concurrent clients on loopback — next to the same algorithm on
# the Python stack (HF transformers + SAELens, bench/python_discover.py), in one run.
# Writes the "discover" section of BENCHMARKS.md (min / median / max of each figure).
#
#   PYTHON=/path/to/venv/bin/python scripts/bench-discover.sh [--out DIR] [--benchmarks FILE|-] [--baseline OLD_SAEX]
#
# --baseline: an older saex binary measured in the same run, for before/after a change (its
# server is driven by this checkout's load client).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_parse "$@"
PY="${PYTHON:-python3}"
"$PY" -c "import torch, transformers, sae_lens" 2>/dev/null || { echo "error: $PY lacks torch/transformers/sae_lens (set PYTHON; fixtures/parity/requirements.txt + sae_lens)" >&2; exit 2; }
bench_need hyperfine hyperfine
out="$bench_out"
gemma="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
cargo build --release -q -p saex-server --example load
saex="$PWD/target/release/saex"
load="$PWD/target/release/examples/load"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
conditions="$(bench_conditions)"

"$PY" bench/make_texts.py "$gemma" 128 "$out/texts128.jsonl"
head -1 "$out/texts128.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["text"], end="")' > "$out/text128.txt"
python3 -c '
import json, sys
for l in open(sys.argv[1]):
    print(json.dumps({"text": json.loads(l)["text"]}))' "$out/texts128.jsonl" > "$out/bodies.jsonl"
head -1 "$out/bodies.jsonl" > "$out/body1.jsonl"

serve() { # serve BINARY ARGS... → sets $pid and $addr
  local bin="$1"; shift
  "$bin" serve --addr 127.0.0.1:0 --model "$gemma" --sae demo/sae "$@" 2> "$out/serve.log" &
  pid=$!
  for _ in $(seq 200); do grep -q listening "$out/serve.log" && break; sleep 0.1; done
  addr=$(grep -o '127.0.0.1:[0-9]*' "$out/serve.log" | head -1)
}

server_runs() { # server_runs BINARY PREFIX
  serve "$1" --no-cache
  "$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 2 > /dev/null # warm-up
  "$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 20 > "$out/$2warm1.json"
  "$load" --addr "$addr" --bodies "$out/bodies.jsonl" --clients 8 --requests 64 > "$out/$2conc8.json"
  kill $pid; wait $pid 2>/dev/null || true
  local cache; cache=$(mktemp -d)
  serve "$1" --cache-dir "$cache"
  "$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 2 > /dev/null
  "$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 20 > "$out/$2warm1_cached.json"
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$cache"
}

echo "1/4 warm server: one client, 20 requests (no cache; then cached); 8 clients, 64 requests over 29 texts" >&2
server_runs "$saex" ""
[ -z "$bench_baseline" ] || server_runs "$bench_baseline" "base_"

echo "2/4 cold CLI: process start, model load, one discover (no cache)" >&2
cmd() { echo "$1 discover --model $gemma --sae demo/sae --text-file $out/text128.txt --json --no-cache"; }
if [ -n "$bench_baseline" ]; then
  hyperfine -N -w 1 -r 5 --export-json "$out/discover_cli.json" "$(cmd "$saex")" "$(cmd "$bench_baseline")" > /dev/null
else
  hyperfine -N -w 1 -r 5 --export-json "$out/discover_cli.json" "$(cmd "$saex")" > /dev/null
fi
$(cmd "$saex") > "$out/saex_once.json"

echo "3/4 Python stack: warm function call and cold script" >&2
"$PY" bench/python_discover.py warm --gguf "$gemma" --sae demo/sae --texts "$out/texts128.jsonl" --repeat 10 > "$out/py_warm.json"
hyperfine -N -w 0 -r 3 --export-json "$out/py_cli.json" \
  "$PY bench/python_discover.py once --gguf $gemma --sae demo/sae --text-file $out/text128.txt" > /dev/null
"$PY" bench/python_discover.py once --gguf "$gemma" --sae demo/sae --text-file "$out/text128.txt" > "$out/py_once.json"

echo "4/4 report" >&2
versions="$("$PY" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ["torch", "transformers", "sae_lens"]))')"
python3 bench/report_discover.py "$out" "$versions" "$conditions" "${bench_baseline:+baseline}" > "$out/discover.md"
bench_write discover "$out/discover.md"
