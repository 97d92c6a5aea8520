#!/usr/bin/env bash
# Discovery latency: one 128-token text through `saex discover` (default options: entropy
# pre-filter, which runs the whole model for its logits) on Gemma 3 270M + the demo SAE —
# warm server, cold CLI, 8 concurrent clients on loopback — next to the same algorithm on
# the Python stack (HF transformers + SAELens, bench/python_discover.py), in one run.
# Writes the "discover" section of BENCHMARKS.md.
#
#   PYTHON=/path/to/venv/bin/python scripts/bench-discover.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
"$PY" -c "import torch, transformers, sae_lens" 2>/dev/null || { echo "error: $PY lacks torch/transformers/sae_lens (set PYTHON)" >&2; exit 2; }
out=target/bench; mkdir -p "$out"
gemma="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
cargo build --release -q -p saex-server --example load
saex=target/release/saex
load=target/release/examples/load
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

"$PY" bench/make_texts.py "$gemma" 128 "$out/texts128.jsonl"
head -1 "$out/texts128.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["text"], end="")' > "$out/text128.txt"
python3 -c '
import json, sys
for l in open(sys.argv[1]):
    print(json.dumps({"text": json.loads(l)["text"]}))' "$out/texts128.jsonl" > "$out/bodies.jsonl"
head -1 "$out/bodies.jsonl" > "$out/body1.jsonl"

serve() { # serve ARGS... → sets $pid and $addr
  "$saex" serve --addr 127.0.0.1:0 --model "$gemma" --sae demo/sae "$@" 2> "$out/serve.log" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$out/serve.log" && break; sleep 0.1; done
  addr=$(grep -o '127.0.0.1:[0-9]*' "$out/serve.log" | head -1)
}

echo "1/4 warm server: one client, one 128-token text, 20 requests (no cache; then cached)" >&2
serve --no-cache
"$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 2 > /dev/null # warm-up
"$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 20 > "$out/warm1.json"
echo "2/4 8 concurrent clients, 64 requests over 29 different texts (no cache, 2 permits)" >&2
"$load" --addr "$addr" --bodies "$out/bodies.jsonl" --clients 8 --requests 64 > "$out/conc8.json"
kill $pid; wait $pid 2>/dev/null || true
cache=$(mktemp -d)
serve --cache-dir "$cache"
"$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 2 > /dev/null
"$load" --addr "$addr" --bodies "$out/body1.jsonl" --clients 1 --requests 20 > "$out/warm1_cached.json"
kill $pid; wait $pid 2>/dev/null || true
rm -rf "$cache"

echo "3/4 cold CLI: process start, model load, one discover (no cache)" >&2
hyperfine -N -w 1 -r 5 --export-json "$out/discover_cli.json" \
  "$saex discover --model $gemma --sae demo/sae --text-file $out/text128.txt --json --no-cache" > /dev/null
"$saex" discover --model "$gemma" --sae demo/sae --text-file "$out/text128.txt" --json --no-cache > "$out/saex_once.json"

echo "4/4 Python stack: warm function call and cold script" >&2
"$PY" bench/python_discover.py warm --gguf "$gemma" --sae demo/sae --texts "$out/texts128.jsonl" --repeat 10 > "$out/py_warm.json"
hyperfine -N -w 0 -r 3 --export-json "$out/py_cli.json" \
  "$PY bench/python_discover.py once --gguf $gemma --sae demo/sae --text-file $out/text128.txt" > /dev/null
"$PY" bench/python_discover.py once --gguf "$gemma" --sae demo/sae --text-file "$out/text128.txt" > "$out/py_once.json"

versions="$("$PY" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ["torch", "transformers", "sae_lens"]))')"
python3 bench/report_discover.py "$out" "$versions" > "$out/discover.md"
python3 - "$out/discover.md" <<'PY'
import re, sys
section = open(sys.argv[1]).read()
doc = open("BENCHMARKS.md").read()
begin, end = "<!-- discover:begin -->", "<!-- discover:end -->"
block = f"{begin}\n{section}{end}"
doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S) if begin in doc else doc.rstrip() + "\n\n" + block + "\n"
open("BENCHMARKS.md", "w").write(doc)
PY
cat "$out/discover.md"
