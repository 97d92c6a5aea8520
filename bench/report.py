"""Turns the JSON results of scripts/bench.sh into its section of BENCHMARKS.md (stdout):
each throughput is the median run's, with the range over runs (slowest–fastest)."""
import datetime
import json
import os
import platform
import sys

d = sys.argv[1]
saex_batch_rss, tl_batch_rss, saex_cli_rss, py_cli_rss, gemma_cli_rss, saex_pipe_rss, py_pipe_rss = (
    int(x) / 1024 / 1024 for x in sys.argv[2:9])
py_versions, conditions = sys.argv[9], sys.argv[10]
j = lambda name: json.load(open(os.path.join(d, name)))
sb, tb, sg, hg = j("saex_batch.json"), j("tl_batch.json"), j("saex_gemma.json"), j("hf_gemma.json")
cs, cp, cg = (j(n)["results"][0] for n in ("cli_saex.json", "cli_py.json", "cli_gemma.json"))
ss, pe, pp = j("saex_sae.json"), j("py_sae_encode.json"), j("py_pipeline.json")


def rng(r, n=None):  # tokens/s range over runs, from min_s/max_s (or a given [lo, hi])
    lo, hi = (n / r["max_s"], n / r["min_s"]) if n is not None else r
    return f" ({lo:.0f}–{hi:.0f})"


def cli(r):  # a hyperfine result
    return f"{r['min']:.2f} / **{r['median']:.2f}** / {r['max']:.2f} s"


print(f"""## Model and SAE throughput, cold CLI capture (`scripts/bench.sh`)

{conditions} Run by
`PYTHON=venv/bin/python scripts/bench.sh` (each side alternately, same run; tokens/s of the
median run, range over runs in parentheses; wall times min / **median** / max).
Python stack: {py_versions}, 2 torch threads. saex: candle 0.11 + faer matmul, mimalloc.
Models: a random-weight GPT-2-small-shaped checkpoint (`bench/make_gpt2_small.py`; speed does
not depend on the values) and the real Gemma 3 270M Q4_K_M GGUF (`scripts/fetch-models.sh`).

### Forward throughput (batched)

| workload | saex tokens/s | Python tokens/s | ratio | command |
|---|---:|---:|---:|---|
| GPT-2 small to `blocks.6.hook_resid_pre`, {sb['tokens']:.0f} tokens, batches of {sb['batch']}×{sb['seq']} | {sb['tokens_per_s']:.0f}{rng(sb, sb['tokens'])} | {tb['tokens_per_s']:.0f}{rng(tb, tb['tokens'])} (TransformerLens) | **{sb['tokens_per_s'] / tb['tokens_per_s']:.2f}×** | `cargo bench -p saex-model --bench throughput -- --model GPT2 --hook blocks.6.hook_resid_pre --tokens 8192 --batch 16 --seq 128` vs `python bench/python_stack.py tl-batch --model GPT2` |
| Gemma 3 270M GGUF to layer 6, {sg['tokens']:.0f} tokens, batches of {sg['batch']}×{sg['seq']} | {sg['tokens_per_s']:.0f}{rng(sg, sg['tokens'])} | {hg['tokens_per_s']:.0f}{rng(hg, hg['tokens'])} (HF transformers) | **{sg['tokens_per_s'] / hg['tokens_per_s']:.2f}×** | `... --bench throughput -- --model gemma-3-270m-q4_k_m.gguf --tokens 2048 --batch 8` vs `python bench/python_stack.py hf-gemma --gguf FILE` |

Effective GFLOP/s (matmul FLOPs per token × tokens/s): saex {sb['effective_gflops']:.0f} on GPT-2
(Python stack at the same FLOPs per token: {sb['effective_gflops'] * tb['tokens_per_s'] / sb['tokens_per_s']:.0f}); best dense f32 matmul
[512×768]×[768×24576] through saex's matmul on this machine: {sb['best_matmul_gflops']:.0f} GFLOP/s. Gemma: saex
{sg['effective_gflops']:.0f} GFLOP/s effective.

### SAE (d_in 768 × d_sae 24,576, standard, ~1% of features firing)

| workload | saex tokens/s | Python tokens/s | ratio | command |
|---|---:|---:|---:|---|
| encode alone, batches of 512 | {ss['encode_tokens_per_s']:.0f}{rng(ss['encode_tokens_per_s_range'])} | {pe['tokens_per_s']:.0f}{rng(pe, pe['tokens'])} (SAELens) | **{ss['encode_tokens_per_s'] / pe['tokens_per_s']:.2f}×** | `cargo bench -p saex-engine --bench sae_throughput -- --sae SAE` vs `python bench/python_stack.py sae-encode --sae SAE` |
| GPT-2 small to layer 6 + encode, batches of 16×128 | {ss['pipeline_tokens_per_s']:.0f}{rng(ss['pipeline_tokens_per_s_range'])} | {pp['tokens_per_s']:.0f}{rng(pp, pp['tokens'])} (TransformerLens + SAELens) | **{ss['pipeline_tokens_per_s'] / pp['tokens_per_s']:.2f}×** | `... --bench sae_throughput -- --sae SAE --model GPT2` vs `python bench/python_stack.py pipeline --model GPT2 --sae SAE` |

Peak RSS of the pipeline (2,048 tokens): saex {saex_pipe_rss:.2f} GiB, Python {py_pipe_rss:.2f} GiB
({saex_pipe_rss / py_pipe_rss:.2f}×). saex encodes to sparse (feature, value) pairs per token; SAELens
to a dense tensor. The SAE is `bench/make_sae.py`'s random one.

### One CLI capture of a 128-token prompt, cold (process start, load, run, save)

| | wall time (min / **median** / max) | peak RSS | command |
|---|---:|---:|---|
| saex, GPT-2 small | {cli(cs)} | {saex_cli_rss:.2f} GiB | `saex capture --model GPT2 --hooks blocks.6.hook_resid_pre --text-file prompt.txt --out x.safetensors` |
| TransformerLens, same work | {cli(cp)} | {py_cli_rss:.2f} GiB | `python bench/python_stack.py tl-cli --model GPT2 --text-file prompt.txt --out y.safetensors` |
| **ratio** | **{cp['median'] / cs['median']:.1f}× faster** | **{saex_cli_rss / py_cli_rss:.2f}×** | |
| saex, Gemma 3 270M GGUF | {cli(cg)} | {gemma_cli_rss:.2f} GiB | `saex capture --model gemma-3-270m-q4_k_m.gguf --hooks blocks.6.hook_resid_pre --text-file prompt.txt ...` |

Peak RSS of the batched GPT-2 runs (2,048 tokens): saex {saex_batch_rss:.2f} GiB, TransformerLens
{tl_batch_rss:.2f} GiB ({saex_batch_rss / tl_batch_rss:.2f}×).
""")
