"""The peer of `saex logit-stats`: seed 004's statistics of every feature's W_dec[i] · W_U
over the whole vocabulary, with TransformerLens's default W_U (norm folded, centred), top 10
boosted and suppressed tokens — in numpy (f64 moments, as saex) or torch (f32, as seed 004's
helper), blockwise over features so d_sae × vocab never exists.

    python bench/python_logit_stats.py --sae DIR --unembed U.npz --engine numpy|torch [--out stats.json]

Times its own phases (load, compute) and prints them as JSON on stderr."""
import argparse
import json
import sys
import time

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--sae", required=True)
ap.add_argument("--unembed", required=True)
ap.add_argument("--engine", choices=["numpy", "torch"], default="numpy")
ap.add_argument("--block", type=int, default=64)
ap.add_argument("--out")
a = ap.parse_args()
t0 = time.perf_counter()
from safetensors.numpy import load_file  # noqa: E402

w_dec = load_file(f"{a.sae}/sae_weights.safetensors")["W_dec"].astype(np.float32)
u = np.load(a.unembed)
w_u, g, layernorm = u["w_u"], u["norm_weight"], bool(u["layernorm"])
t1 = time.perf_counter()
# TransformerLens's processing, moved onto the decoder rows (as saex does): fold the norm
# weight, centre over d_model for LayerNorm; centre over the vocabulary.
a_rows = w_dec - w_dec.mean(axis=1, keepdims=True) if layernorm else w_dec
a_rows = (a_rows * g[None, :]).astype(np.float32)
mean_u = w_u.mean(axis=0)
K = 10
out = []
if a.engine == "torch":
    import torch

    torch.set_num_threads(2)
    wu_t = torch.from_numpy(w_u)
for s in range(0, a_rows.shape[0], a.block):
    blk = a_rows[s : s + a.block]
    if a.engine == "numpy":
        w = blk @ w_u.T  # [F, vocab] f32
        w -= (blk @ mean_u)[:, None]
        w64 = w.astype(np.float64)
        mu = w64.mean(axis=1, keepdims=True)
        d = w64 - mu
        var = (d * d).mean(axis=1)
        std = np.sqrt(var)
        z = d / std[:, None]
        skew = (z**3).mean(axis=1)
        kurt = (z**4).mean(axis=1)
        top = np.argpartition(-w, K, axis=1)[:, :K]
        bot = np.argpartition(w, K, axis=1)[:, :K]
        mu = mu[:, 0]
    else:
        bt = torch.from_numpy(blk)
        w = bt @ wu_t.T
        w -= (bt @ torch.from_numpy(mean_u))[:, None]
        mu = w.mean(dim=1, keepdim=True)
        d = w - mu
        std = d.pow(2).mean(dim=1).sqrt()
        z = d / std[:, None]
        skew = z.pow(3).mean(dim=1)
        kurt = z.pow(4).mean(dim=1)
        top = torch.topk(w, K, dim=1).indices
        bot = torch.topk(-w, K, dim=1).indices
        w, mu, std, skew, kurt, top, bot = (x.numpy() for x in (w, mu[:, 0], std, skew, kurt, top, bot))
    for i in range(blk.shape[0]):
        ti = top[i][np.argsort(-w[i, top[i]], kind="stable")]
        bi = bot[i][np.argsort(w[i, bot[i]], kind="stable")]
        out.append({"feature_id": s + i, "mean": float(mu[i]), "std": float(std[i]), "skewness": float(skew[i]), "kurtosis": float(kurt[i]),
                    "boosted": ti.tolist(), "suppressed": bi.tolist()})
t2 = time.perf_counter()
if a.out:
    json.dump(out, open(a.out, "w"))
print(json.dumps({"engine": a.engine, "load_s": t1 - t0, "compute_s": t2 - t1, "features": len(out)}), file=sys.stderr)
