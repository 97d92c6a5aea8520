#!/usr/bin/env bash
# Generation and prefill speed of saex with weights kept quantized (default), saex with
# `--dtype f32` (dequantized at load), and llama.cpp (llama-cpp-python, 2 threads), on the same
# GGUF, the same 128 prompt token ids and 128 greedy new tokens, in one run; then the same
# three while another process keeps one core busy. Writes the quantized section of
# BENCHMARKS.md (between its markers).
#
#   LLAMA_PY=/work/venv-llama/bin/python scripts/bench-quant.sh [gemma3] [qwen7b] [qwen7b-synthetic]
#
# (`qwen7b-synthetic`: the file QWEN7B_SYNTHETIC made by bench/make_synthetic_gguf.py.)
#
# LLAMA_PY is a Python with llama-cpp-python (`pip install llama-cpp-python==0.3.36`; build it
# with CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON ..." where the CPU has AMX
# but the kernel does not grant it: a native build segfaulted here).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${LLAMA_PY:-python3}"
"$PY" -c "import llama_cpp" 2>/dev/null || { echo "error: $PY lacks llama_cpp (set LLAMA_PY)" >&2; exit 2; }
out=target/bench-quant; mkdir -p "$out"
cargo bench -q -p saex-model --bench decode --no-run 2>/dev/null
dec="$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/decode-* | grep -v '\.d$' | head -1)"
models=("${@:-gemma3}")
repeat="${REPEAT:-3}" # REPEAT=1 for the 7B: one 128-token decode takes minutes there
cat > "$out/prompt.txt" <<'EOF'
The history of the city begins in the early middle ages, when a small settlement of fishermen and traders grew up around the river crossing. Over the following centuries it became a market town, then a center of learning, and finally the capital of a prosperous region known for its wool, its bridges and its cathedral.
EOF
timed() { # label cmd... → $out/label.json, $out/label.time (wall s, peak RSS KiB)
  local label="$1"; shift
  /usr/bin/time -f '%e %M' -o "$out/$label.time" "$@" > "$out/$label.json" 2> "$out/$label.err" || echo "{}" > "$out/$label.json"
}
hog() { python3 -c 'while True: pass' & hog_pid=$!; }
cut -d' ' -f1-3 /proc/loadavg > "$out/load_start"
for m in "${models[@]}"; do
  case "$m" in
    qwen7b-synthetic) gguf="${QWEN7B_SYNTHETIC:?set QWEN7B_SYNTHETIC to bench/make_synthetic_gguf.py output}" ;;
    *) gguf="$(scripts/fetch-models.sh "$m")" ;;
  esac
  "$PY" bench/llama_cpp_decode.py --model "$gguf" --write-ids "$out/$m.ids.json" --text "$out/prompt.txt" --n 128
  echo "$m: saex stored / saex f32 / llama.cpp, quiet" >&2
  timed "$m.saex" "$dec" --model "$gguf" --ids "$out/$m.ids.json" --repeat "$repeat"
  if [ "$m" != qwen7b-synthetic ]; then # f32: ~30 GB for a 7B, more than this machine has
    timed "$m.saex_f32" "$dec" --model "$gguf" --dtype f32 --ids "$out/$m.ids.json" --repeat "$repeat"
  fi
  timed "$m.llama" "$PY" bench/llama_cpp_decode.py --model "$gguf" --ids "$out/$m.ids.json" --repeat "$repeat"
  # llama.cpp's OpenMP workers spin while waiting; passive waiting is fairer on a shared machine.
  timed "$m.llama_passive" env OMP_WAIT_POLICY=passive "$PY" bench/llama_cpp_decode.py --model "$gguf" --ids "$out/$m.ids.json" --repeat "$repeat"
  [ -n "${SKIP_BUSY:-}" ] && continue
  echo "$m: the same with one core kept busy by another process (llama.cpp cut at 600 s)" >&2
  hog
  timed "$m.saex_busy" "$dec" --model "$gguf" --ids "$out/$m.ids.json" --repeat 1
  timed "$m.llama_busy" timeout 600 "$PY" bench/llama_cpp_decode.py --model "$gguf" --ids "$out/$m.ids.json" --repeat 1
  timed "$m.llama_passive_busy" env OMP_WAIT_POLICY=passive timeout 600 "$PY" bench/llama_cpp_decode.py --model "$gguf" --ids "$out/$m.ids.json" --repeat 1
  kill "$hog_pid"
done
cut -d' ' -f1-3 /proc/loadavg > "$out/load_end"
python3 bench/report_quant.py "$out" "${models[@]}" > "$out/section.md"
python3 - "$out/section.md" <<'EOF'
import re, sys
sec = open(sys.argv[1]).read()
doc = open("BENCHMARKS.md").read()
block = "<!-- quantized:begin -->\n" + sec + "<!-- quantized:end -->\n"
if "<!-- quantized:begin -->" in doc:
    doc = re.sub(r"<!-- quantized:begin -->.*<!-- quantized:end -->\n", lambda _: block, doc, flags=re.S)
else:
    doc += "\n" + block
open("BENCHMARKS.md", "w").write(doc)
EOF
cat "$out/section.md"
