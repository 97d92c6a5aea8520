"""Markdown for the quantized-weights section of BENCHMARKS.md from scripts/bench-quant.sh's
outputs: `report_quant.py OUT_DIR MODEL...`."""
import json
import os
import sys

out, models = sys.argv[1], sys.argv[2:]


def load(label):
    try:
        j = json.load(open(os.path.join(out, label + ".json")))
    except (OSError, ValueError):
        j = {}
    try:
        wall, rss = open(os.path.join(out, label + ".time")).read().split()[-2:]
        j["wall_s"], j["rss_gib"] = float(wall), int(rss) / 2**20
    except (OSError, ValueError):
        pass
    return j


def f(j, k, fmt="{:.1f}"):
    return fmt.format(j[k]) if k in j else "–"


print("## Generation with weights kept quantized (`scripts/bench-quant.sh`)\n")
print("Same GGUF, same 128 prompt token ids (the model's tokenizer, with bos), 128 greedy new")
print("tokens (end-of-sequence ignored), 2 threads each, medians of `REPEAT` runs (3; 1 for the 7B), in one run. Decode tok/s")
print("counts the 127 steps after the first token; prefill tok/s is the 128-token prompt pass")
print("(with the first token's logits). Wall time and peak RSS are of the whole process (load, 3")
print("prefills and decodes). llama.cpp: llama-cpp-python, `n_threads=2`. saex f32: the same")
print("file dequantized at load (`Dtype::F32`, today's `--dtype f32` path).")
try:
    la, lb = open(os.path.join(out, "load_start")).read().split(), open(os.path.join(out, "load_end")).read().split()
    print(f"Load average (1, 5, 15 min) at the start: {' '.join(la)}; at the end: {' '.join(lb)} (2 cores).")
except OSError:
    pass
print()
for m in models:
    rows = [("saex (quantized)", load(f"{m}.saex")), ("saex (f32)", load(f"{m}.saex_f32")),
            ("llama.cpp", load(f"{m}.llama")), ("llama.cpp, OMP_WAIT_POLICY=passive", load(f"{m}.llama_passive"))]
    name = rows[0][1].get("model", m)
    print(f"### {m}: `{os.path.basename(name)}`\n")
    print("| engine | decode tok/s | prefill tok/s | load s | process wall s | peak RSS GiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, j in rows:
        print(f"| {label} | {f(j, 'decode_tok_s')} | {f(j, 'prefill_tok_s')} | {f(j, 'load_s', '{:.2f}')} | "
              f"{f(j, 'wall_s')} | {f(j, 'rss_gib', '{:.2f}')} |")
    a, b = rows[0][1].get("tokens"), rows[2][1].get("tokens")
    if a and b:
        same = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
        print(f"\nGreedy tokens, saex vs llama.cpp: the first {same} of {len(a)} identical (llama.cpp "
              "quantizes activations to 8 bits; saex keeps them f32).")
    sb, lb, pb = load(f"{m}.saex_busy"), load(f"{m}.llama_busy"), load(f"{m}.llama_passive_busy")
    print("\nWith another process spinning on one of the two cores (one run each):\n")
    print("| engine | decode tok/s | prefill tok/s | process wall s |")
    print("|---|---:|---:|---:|")
    print(f"| saex (quantized) | {f(sb, 'decode_tok_s')} | {f(sb, 'prefill_tok_s')} | {f(sb, 'wall_s')} |")
    print(f"| llama.cpp | {f(lb, 'decode_tok_s')} | {f(lb, 'prefill_tok_s')} | "
          f"{f(lb, 'wall_s') if 'decode_tok_s' in lb else 'cut at 600 s' if 'wall_s' in lb else '–'} |")
    print(f"| llama.cpp, OMP_WAIT_POLICY=passive | {f(pb, 'decode_tok_s')} | {f(pb, 'prefill_tok_s')} | {f(pb, 'wall_s')} |")
    print()
