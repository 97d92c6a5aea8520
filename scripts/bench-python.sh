#!/usr/bin/env bash
# `import saex` latency: `session.top_features` on one 128-token text from Python, warm, on
# Gemma 3 270M + the demo SAE — against the engine's own time of the same call (measured
# inside Rust, interleaved: the difference is the binding's overhead), the CLI's warm server
# (`saex serve`, POST /v1/sae/features/top over loopback) and the Python stack (HF
# transformers on the same GGUF + SAELens, bench/python_binding.py stack), in one run.
# Writes the "python" section of BENCHMARKS.md (min / median / max of each figure).
#
#   PYTHON=/path/to/torch-venv/bin/python scripts/bench-python.sh [--out DIR] [--benchmarks FILE|-]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_parse "$@"
[ -z "$bench_baseline" ] || { echo "--baseline is not supported here (the binding is built from this checkout)" >&2; exit 2; }
PY="${PYTHON:-python3}"
"$PY" -c "import torch, transformers, sae_lens" 2>/dev/null || { echo "error: $PY lacks torch/transformers/sae_lens (set PYTHON; fixtures/parity/requirements.txt + sae_lens)" >&2; exit 2; }
out="$bench_out"
repeat=30
gemma="$(scripts/fetch-models.sh gemma3)"
cargo build --release -q -p saex
cargo build --release -q -p saex-server --example load
scripts/setup-python-module.sh
saex="$PWD/target/release/saex"
load="$PWD/target/release/examples/load"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
conditions="$(bench_conditions)"

"$PY" bench/make_texts.py "$gemma" 128 "$out/texts128.jsonl"
head -1 "$out/texts128.jsonl" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["text"], end="")' > "$out/text128.txt"
python3 -c 'import json,sys; print(json.dumps({"text": open(sys.argv[1]).read()}))' "$out/text128.txt" > "$out/top_body.jsonl"

echo "1/3 import saex: top_features, the engine's own time and the mlxterp-style call, interleaved ($repeat each)" >&2
.venv-py/bin/python bench/python_binding.py saex --gguf "$gemma" --sae demo/sae --text-file "$out/text128.txt" --repeat "$repeat" > "$out/py_binding.json"

echo "2/3 warm server: one client, $repeat requests to /v1/sae/features/top" >&2
"$saex" serve --addr 127.0.0.1:0 --model "$gemma" --sae demo/sae --no-cache 2> "$out/serve.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q listening "$out/serve.log" && break; sleep 0.1; done
addr=$(grep -o '127.0.0.1:[0-9]*' "$out/serve.log" | head -1)
[ -n "$addr" ] || { echo "error: saex serve did not start:" >&2; cat "$out/serve.log" >&2; exit 1; }
"$load" --addr "$addr" --path /v1/sae/features/top --bodies "$out/top_body.jsonl" --clients 1 --requests 3 > /dev/null # warm-up
"$load" --addr "$addr" --path /v1/sae/features/top --bodies "$out/top_body.jsonl" --clients 1 --requests "$repeat" > "$out/server_top.json"
kill $pid; wait $pid 2>/dev/null || true
trap - EXIT

echo "3/3 Python stack: transformers + SAELens, the same ranking as a warm function call" >&2
"$PY" bench/python_binding.py stack --gguf "$gemma" --sae demo/sae --text-file "$out/text128.txt" --repeat "$repeat" > "$out/py_stack.json"

versions="$("$PY" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ["torch", "transformers", "sae_lens"]))')"
python3 bench/python_binding_report.py "$out" "$versions" "$conditions" "$repeat" > "$out/python.md"
bench_write python "$out/python.md"
