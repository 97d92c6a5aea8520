#!/usr/bin/env bash
# Benchmarks saex next to the Python stack (TransformerLens / HF transformers) in one run and
# writes the "forward" section of BENCHMARKS.md, then runs scripts/bench-discover.sh. Needs
# the Python reference stack (fixtures/parity/requirements.txt + sae_lens):
#
#   PYTHON=/path/to/venv/bin/python scripts/bench.sh [--out DIR] [--benchmarks FILE|-]
#
# Each row of BENCHMARKS.md names the command that reproduces it. Quiet machine advised:
# both sides are measured alternately in the same run, so ratios hold even when it is not.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_parse "$@"
PY="${PYTHON:-python3}"
"$PY" -c "import torch, transformer_lens" 2>/dev/null || { echo "error: $PY lacks torch/transformer_lens (set PYTHON)" >&2; exit 2; }
bench_need hyperfine hyperfine
bench_need /usr/bin/time time
out="$bench_out"
conditions="$(bench_conditions)"
gemma="$(scripts/fetch-models.sh gemma3)"
gpt2="$PWD/$out/gpt2-small-random"
[ -f "$gpt2/model.safetensors" ] || "$PY" bench/make_gpt2_small.py "$gpt2"
sae="$PWD/$out/sae-24576"
[ -f "$sae/sae_weights.safetensors" ] || "$PY" bench/make_sae.py "$sae"
cargo build --release -q -p saex
cargo bench -q -p saex-model --bench throughput --no-run 2>/dev/null
cargo bench -q -p saex-engine --bench sae_throughput --no-run 2>/dev/null
tp="$(ls -t target/release/deps/throughput-* | grep -v '\.d$' | head -1)"
sp="$(ls -t target/release/deps/sae_throughput-* | grep -v '\.d$' | head -1)"
saex=target/release/saex
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

# A 128-token prompt under the benchmark checkpoint's tokenizer.
words="the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their"
python3 -c "
import random; random.seed(0); w='$words'.split()
print(' '.join(random.choice(w) for _ in range(51)), end='')" > "$out/prompt.txt"

rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; } # peak RSS in KiB

echo "1/5 GPT-2-small shape, 8192 tokens to blocks.6.hook_resid_pre (batches of 16 x 128)" >&2
"$tp" --model "$gpt2" --hook blocks.6.hook_resid_pre --tokens 8192 --batch 16 --seq 128 --repeat 3 > "$out/saex_batch.json"
"$PY" bench/python_stack.py tl-batch --model "$gpt2" --tokens 8192 --batch 16 --seq 128 --repeat 3 > "$out/tl_batch.json"
saex_batch_rss=$(rss "$tp" --model "$gpt2" --tokens 2048 --batch 16 --seq 128 --repeat 1)
tl_batch_rss=$(rss "$PY" bench/python_stack.py tl-batch --model "$gpt2" --tokens 2048 --batch 16 --seq 128 --repeat 1)

echo "2/5 Gemma 3 270M GGUF, 2048 tokens to layer 6 (batches of 8 x 128)" >&2
"$tp" --model "$gemma" --hook blocks.6.hook_resid_pre --tokens 2048 --batch 8 --seq 128 --repeat 3 > "$out/saex_gemma.json"
"$PY" bench/python_stack.py hf-gemma --gguf "$gemma" --tokens 2048 --batch 8 --seq 128 --repeat 3 > "$out/hf_gemma.json"

echo "3/5 SAE d_in 768 x d_sae 24576: encode alone, and GPT-2 small to layer 6 + encode" >&2
"$sp" --sae "$sae" --model "$gpt2" --tokens 8192 --batch 16 --seq 128 --encode-batch 512 --repeat 3 > "$out/saex_sae.json"
"$PY" bench/python_stack.py sae-encode --sae "$sae" --tokens 8192 --batch 512 --repeat 3 > "$out/py_sae_encode.json"
"$PY" bench/python_stack.py pipeline --model "$gpt2" --sae "$sae" --tokens 8192 --batch 16 --seq 128 --repeat 3 > "$out/py_pipeline.json"
saex_pipe_rss=$(rss "$sp" --sae "$sae" --model "$gpt2" --tokens 2048 --repeat 1)
py_pipe_rss=$(rss "$PY" bench/python_stack.py pipeline --model "$gpt2" --sae "$sae" --tokens 2048 --repeat 1)

echo "4/5 one CLI capture of a 128-token prompt, cold (load included)" >&2
cap="$saex capture --model $gpt2 --hooks blocks.6.hook_resid_pre --text-file $out/prompt.txt --out $out/saex_cap.safetensors --quiet"
pycap="$PY bench/python_stack.py tl-cli --model $gpt2 --text-file $out/prompt.txt --out $out/py_cap.safetensors"
hyperfine -N -w 1 -r 5 --export-json "$out/cli_saex.json" "$cap" >/dev/null
hyperfine -N -w 1 -r 3 --export-json "$out/cli_py.json" "$pycap" >/dev/null
saex_cli_rss=$(rss $cap)
py_cli_rss=$(rss $pycap)
gcap="$saex capture --model $gemma --hooks blocks.6.hook_resid_pre --text-file $out/prompt.txt --out $out/saex_gcap.safetensors --quiet"
hyperfine -N -w 1 -r 5 --export-json "$out/cli_gemma.json" "$gcap" >/dev/null
gemma_cli_rss=$(rss $gcap)

echo "5/5 report" >&2
python3 bench/report.py "$out" "$saex_batch_rss" "$tl_batch_rss" "$saex_cli_rss" "$py_cli_rss" "$gemma_cli_rss" "$saex_pipe_rss" "$py_pipe_rss" \
  "$("$PY" -c 'from importlib.metadata import version as v; print(", ".join(f"{p} {v(p)}" for p in ["torch", "transformers", "transformer_lens"]))')" \
  "$conditions" > "$out/forward.md"
bench_write forward "$out/forward.md"
# The discover section (its own script: it runs a server and the Python discover reference).
scripts/bench-discover.sh --out "$bench_out" --benchmarks "$bench_file" ${bench_baseline:+--baseline "$bench_baseline"}
