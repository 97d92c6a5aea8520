"""`saex discover`'s text mode done with the Python stack (HF transformers on the GGUF +
SAELens), for latency ratios measured in the same run. Same algorithm and defaults: entropy
pre-filter (K=64, bos excluded), tau = each feature's reference P95, mean x coverage, coverage
gate 0.5%, dense features (reference firing rate > 0.1) skipped, top 25 with 3 spans each.

  python bench/python_discover.py once --gguf F --sae DIR --text-file T     # cold: one run, prints the ranking
  python bench/python_discover.py warm --gguf F --sae DIR --texts T.jsonl --repeat 10   # JSON latencies

Prints the top feature ids too, so the ranking can be compared with saex's.
"""
import argparse
import json
import os
import time

import torch

torch.set_num_threads(2)
torch.set_grad_enabled(False)


def load(gguf, sae_dir):
    from sae_lens import SAE
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d, f = os.path.split(os.path.abspath(gguf))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    sae = SAE.load_from_disk(sae_dir, device="cpu")
    stats = load_file(os.path.join(sae_dir, "feature_stats.safetensors"))
    return tok, model, sae, stats


def discover(tok, model, sae, stats, text, k=64, top_x=25, min_cov_pct=0.5, max_density=0.1):
    enc = tok(text, return_offsets_mapping=True, return_tensors="pt")
    ids = enc["input_ids"]
    out = model(input_ids=ids, output_hidden_states=True)
    x = out.hidden_states[6][0]  # input of block 6 = blocks.6.hook_resid_pre
    logp = torch.log_softmax(out.logits[0].float(), -1)
    entropy = -(logp.exp() * logp).sum(-1)
    n = ids.shape[1]
    candidates = torch.arange(1, n)  # bos excluded
    kept = candidates[torch.argsort(-entropy[1:], stable=True)[:k]] if 0 < k < n - 1 else candidates
    acts = sae.encode(x)  # [n, d_sae]
    a = acts[kept]
    mean = a.mean(0)
    mx = a.max(0).values
    cov = (a > stats["p95"]).float().mean(0)
    active = (a > 0).any(0) & (stats["firing_rate"] <= max_density)
    score = mean * cov
    ok = active & (cov + 1e-6 >= min_cov_pct / 100)
    idx = torch.nonzero(ok).flatten()
    order = idx[torch.argsort(-score[idx], stable=True)][:top_x]
    offsets = enc["offset_mapping"][0].tolist()
    feats = []
    for f in order.tolist():
        col = acts[:, f]
        peaks = [p for p in torch.argsort(-col).tolist() if p > 0 and col[p] > 0]
        spans, taken = [], []
        for p in peaks:
            if len(spans) == 3:
                break
            lo, hi = max(1, p - 4), min(n - 1, p + 2)
            if any(lo <= b and a_ <= hi for a_, b in taken):
                continue
            taken.append((lo, hi))
            spans.append({"text": text[offsets[lo][0]:offsets[hi][1]], "act": float(col[p])})
        feats.append({"feature_id": f, "score": float(score[f]), "mean": float(mean[f]), "coverage": float(cov[f]),
                      "max": float(mx[f]), "top_spans": spans})
    return feats


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["once", "warm"])
    p.add_argument("--gguf", required=True)
    p.add_argument("--sae", required=True)
    p.add_argument("--text-file")
    p.add_argument("--texts")
    p.add_argument("--repeat", type=int, default=10)
    a = p.parse_args()
    tok, model, sae, stats = load(a.gguf, a.sae)
    if a.mode == "once":
        feats = discover(tok, model, sae, stats, open(a.text_file).read())
        print(json.dumps({"features": [f["feature_id"] for f in feats]}))
        return
    texts = [json.loads(l)["text"] for l in open(a.texts) if l.strip()]
    discover(tok, model, sae, stats, texts[0])  # warm-up
    times = []
    for i in range(a.repeat):
        t = time.perf_counter()
        discover(tok, model, sae, stats, texts[i % len(texts)])
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    print(json.dumps({"min_ms": times[0], "p50_ms": times[len(times) // 2], "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))], "max_ms": times[-1],
                      "first_features": [f["feature_id"] for f in discover(tok, model, sae, stats, texts[0])]}))


if __name__ == "__main__":
    main()
