"""The Python reference stack doing what `saex` benchmarks do, for ratios measured in the
same run. Prints one JSON object. Torch uses 2 threads (the machine's cores).

  python bench/python_stack.py tl-batch  --model GPT2_DIR [--tokens 8192 --batch 16 --seq 128]
  python bench/python_stack.py hf-gemma  --gguf FILE       [--tokens 2048 --batch 8 --seq 128]
  python bench/python_stack.py tl-cli    --model GPT2_DIR --text-file F --out OUT.safetensors
  python bench/python_stack.py sae-encode --sae SAE_DIR [--tokens 8192 --batch 512]
  python bench/python_stack.py pipeline  --model GPT2_DIR --sae SAE_DIR [--tokens 8192 --batch 16 --seq 128]
"""
import argparse
import json
import os
import sys
import time

t_start = time.perf_counter()
import torch  # noqa: E402

torch.set_num_threads(2)
torch.set_grad_enabled(False)


def tl_model(model_dir):
    """TransformerLens GPT-2 on a local random checkpoint, no weight processing."""
    from transformer_lens import HookedTransformer, loading_from_pretrained as tl_loading
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    cfg = tl_loading.get_pretrained_model_config(
        model_dir, hf_cfg=hf.config.to_dict(), dtype=torch.float32, device="cpu", default_prepend_bos=True
    )
    cfg.tokenizer_name = None
    state = tl_loading.get_pretrained_state_dict(model_dir, cfg, hf, dtype=torch.float32)
    tl = HookedTransformer(cfg, tokenizer=None, move_to_device=False)
    tl.load_and_process_state_dict(state, fold_ln=False, center_writing_weights=False, center_unembed=False,
                                   fold_value_biases=False, refactor_factored_attn_matrices=False)
    return tl.eval()


def tl_batch(a):
    tl = tl_model(a.model)
    g = torch.Generator().manual_seed(0)
    n_batches = a.tokens // (a.batch * a.seq)
    batches = [torch.randint(0, tl.cfg.d_vocab, (a.batch, a.seq), generator=g) for _ in range(n_batches)]
    hook = "blocks.6.hook_resid_pre"
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        for b in batches:
            _, cache = tl.run_with_cache(b, names_filter=[hook], stop_at_layer=7)
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    return {"what": "TransformerLens run_with_cache to blocks.6.hook_resid_pre", "tokens": n_batches * a.batch * a.seq,
            "median_s": med, "min_s": min(times), "max_s": max(times), "tokens_per_s": n_batches * a.batch * a.seq / med}


def hf_gemma(a):
    from transformers import AutoModelForCausalLM

    d, f = os.path.split(os.path.abspath(a.gguf))
    t = time.perf_counter()
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    load_s = time.perf_counter() - t
    m.model.layers = m.model.layers[:6]  # stop after block 5: the input of block 6
    g = torch.Generator().manual_seed(0)
    n_batches = a.tokens // (a.batch * a.seq)
    batches = [torch.randint(0, m.config.vocab_size, (a.batch, a.seq), generator=g) for _ in range(n_batches)]
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        for b in batches:
            m.model(input_ids=b)
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    return {"what": "HF transformers Gemma 3 270M (GGUF dequantized) to layer 6", "load_s": load_s,
            "tokens": n_batches * a.batch * a.seq, "median_s": med, "min_s": min(times), "max_s": max(times), "tokens_per_s": n_batches * a.batch * a.seq / med}


def tl_cli(a):
    """Same work as one `saex capture`: load, tokenize, run to the hook, save."""
    from safetensors.torch import save_file
    from tokenizers import Tokenizer

    tl = tl_model(a.model)
    tok = Tokenizer.from_file(os.path.join(a.model, "tokenizer.json"))
    ids = [50256] + tok.encode(open(a.text_file).read()).ids
    hook = "blocks.6.hook_resid_pre"
    _, cache = tl.run_with_cache(torch.tensor([ids]), names_filter=[hook], stop_at_layer=7)
    save_file({hook: cache[hook][0].contiguous(), "tokens": torch.tensor(ids)}, a.out)
    return {"what": "TransformerLens single capture incl. imports and load", "tokens": len(ids),
            "wall_s": time.perf_counter() - t_start}


def sae_encode(a):
    """SAELens encode alone on GPT-2-scale random inputs."""
    from sae_lens import SAE

    sae = SAE.load_from_disk(a.sae, device="cpu")
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(a.batch, sae.cfg.d_in, generator=g) * 3.0 for _ in range(a.tokens // a.batch)]
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        for x in xs:
            sae.encode(x)
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    return {"what": "SAELens encode", "tokens": len(xs) * a.batch, "median_s": med, "min_s": min(times), "max_s": max(times), "tokens_per_s": len(xs) * a.batch / med}


def pipeline(a):
    """TransformerLens to blocks.6.hook_resid_pre, then SAELens encode."""
    from sae_lens import SAE

    tl = tl_model(a.model)
    sae = SAE.load_from_disk(a.sae, device="cpu")
    g = torch.Generator().manual_seed(0)
    n_batches = a.tokens // (a.batch * a.seq)
    batches = [torch.randint(0, tl.cfg.d_vocab, (a.batch, a.seq), generator=g) for _ in range(n_batches)]
    hook = "blocks.6.hook_resid_pre"
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        for b in batches:
            _, cache = tl.run_with_cache(b, names_filter=[hook], stop_at_layer=7)
            sae.encode(cache[hook].reshape(-1, sae.cfg.d_in))
        times.append(time.perf_counter() - t)
    med = sorted(times)[len(times) // 2]
    n = n_batches * a.batch * a.seq
    return {"what": "TransformerLens + SAELens encode", "tokens": n, "median_s": med, "min_s": min(times), "max_s": max(times), "tokens_per_s": n / med}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["tl-batch", "hf-gemma", "tl-cli", "sae-encode", "pipeline"])
    p.add_argument("--sae")
    p.add_argument("--model")
    p.add_argument("--gguf")
    p.add_argument("--text-file")
    p.add_argument("--out")
    p.add_argument("--tokens", type=int, default=8192)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    r = {"tl-batch": tl_batch, "hf-gemma": hf_gemma, "tl-cli": tl_cli, "sae-encode": sae_encode, "pipeline": pipeline}[a.mode](a)
    r["torch"] = torch.__version__
    json.dump(r, sys.stdout)
    print()


if __name__ == "__main__":
    main()
