"""`session.top_features` on one text from Python, warm, for scripts/bench-python.sh: the
binding (`import saex`) timed around the call, and within the same calls the engine's own
time (measured inside Rust), so their difference is what the binding adds; and the same
ranking done by the Python stack (HF transformers on the GGUF + SAELens), for comparison.

  python bench/python_binding.py saex --gguf F --sae DIR --text-file T --repeat 30     # .venv-py
  python bench/python_binding.py stack --gguf F --sae DIR --text-file T --repeat 30    # torch venv

Each prints one JSON object: latencies in ms (min / p50 / max, and every sample) and the
feature ids ranked, so both stacks' rankings can be compared.
"""
import argparse
import json
import os
import statistics
import time


def summary(ms):
    s = sorted(ms)
    return {"min_ms": s[0], "p50_ms": statistics.median(s), "max_ms": s[-1], "samples_ms": ms}


def bench_saex(a, text):
    import saex

    s = saex.Session(a.gguf, saes=[a.sae])
    # The same model dequantized at load, as transformers holds a GGUF: the engine's matmuls
    # on f32 instead of Q4_K blocks.
    s32 = saex.Session(a.gguf, saes=[a.sae], dtype="f32")
    for _ in range(3):  # warm-up: pages in the weights, allocator pools
        s.top_features(text)
        s32.top_features(text)
    call, engine, overhead, mlx, f32 = [], [], [], [], []
    for _ in range(a.repeat):
        t = time.perf_counter()
        r = s.top_features(text)
        call.append((time.perf_counter() - t) * 1e3)
        # The same call, with the engine's time inside it (measured on the worker thread):
        # wall − engine is what the binding adds, free of the run-to-run noise of the model.
        t = time.perf_counter()
        timed, seconds = s._top_features_timed(text)
        wall = (time.perf_counter() - t) * 1e3
        assert timed == r
        engine.append(seconds * 1e3)
        overhead.append(wall - seconds * 1e3)
        t = time.perf_counter()
        s.get_top_features_for_text(text, top_k=10)
        mlx.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        s32.top_features(text)
        f32.append((time.perf_counter() - t) * 1e3)
    return {
        "n_tokens": r["n_tokens"],
        "features": [f["feature_id"] for f in r["features"]],
        "call": summary(call),
        "engine": summary(engine),
        "overhead": summary(overhead),
        "mlxterp_call": summary(mlx),
        "call_f32": summary(f32),
    }


def bench_stack(a, text):
    import torch
    from safetensors.torch import load_file
    from sae_lens import SAE
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(2)
    torch.set_grad_enabled(False)
    d, f = os.path.split(os.path.abspath(a.gguf))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    sae = SAE.load_from_disk(a.sae, device="cpu")
    layer = int(sae.cfg.metadata.hook_name.split(".")[1])  # blocks.6.hook_resid_pre
    dense = load_file(os.path.join(a.sae, "feature_stats.safetensors"))["firing_rate"] > 0.1

    class Stop(Exception):
        pass

    captured = {}

    def grab(module, args, kwargs):  # the input of block `layer` = blocks.{layer}.hook_resid_pre
        captured["x"] = args[0] if args else kwargs["hidden_states"]
        raise Stop  # TransformerLens's stop_at_layer: the rest of the model is not needed

    model.model.layers[layer].register_forward_pre_hook(grab, with_kwargs=True)

    def top(text, k=10):
        ids = tok(text, return_tensors="pt")["input_ids"]  # bos first, as saex
        try:
            model(input_ids=ids)
        except Stop:
            pass
        acts = sae.encode(captured["x"][0])  # [n, d_sae]
        best = acts[1:].max(0).values  # bos left out, as saex
        best[dense] = 0.0  # saex's max_density 0.1
        v, i = torch.topk(best, k)
        return [int(f) for f, x in zip(i, v) if x > 0]

    for _ in range(3):
        top(text)
    ms = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        feats = top(text)
        ms.append((time.perf_counter() - t) * 1e3)
    return {"features": feats, "call": summary(ms), "hook": sae.cfg.metadata.hook_name}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["saex", "stack"])
    p.add_argument("--gguf", required=True)
    p.add_argument("--sae", required=True)
    p.add_argument("--text-file", required=True)
    p.add_argument("--repeat", type=int, default=30)
    a = p.parse_args()
    text = open(a.text_file).read()
    print(json.dumps(bench_saex(a, text) if a.mode == "saex" else bench_stack(a, text)))


if __name__ == "__main__":
    main()
