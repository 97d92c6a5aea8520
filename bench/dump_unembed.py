"""Dump a model's unembedding for the logit-stats peers: `python bench/dump_unembed.py MODEL OUT.npz`.
MODEL is a .gguf (read with the `gguf` package, dequantized to f32) or an HF GPT-2 directory
(safetensors). Writes w_u [vocab, d_model] f32, norm_weight [d_model] (the final norm's
effective weight) and layernorm (1 for LayerNorm models, which TransformerLens also centres
over d_model). Not timed: both sides load their weights inside their timed run."""
import sys
from pathlib import Path

import numpy as np

src, out = Path(sys.argv[1]), sys.argv[2]
if src.suffix == ".gguf":
    from gguf import GGUFReader
    from gguf.quants import dequantize

    r = GGUFReader(str(src))
    t = {x.name: x for x in r.tensors}
    emb = t.get("output.weight") or t["token_embd.weight"]
    w_u = dequantize(emb.data, emb.tensor_type).reshape(-1, emb.shape[0]).astype(np.float32)
    norm = np.asarray(dequantize(t["output_norm.weight"].data, t["output_norm.weight"].tensor_type), dtype=np.float32).reshape(-1)
    np.savez(out, w_u=w_u, norm_weight=norm, layernorm=np.int32(0))
else:
    from safetensors.numpy import load_file

    w = load_file(str(src / "model.safetensors"))
    p = "transformer." if "transformer.wte.weight" in w else ""
    np.savez(out, w_u=w[f"{p}wte.weight"].astype(np.float32), norm_weight=w[f"{p}ln_f.weight"].astype(np.float32), layernorm=np.int32(1))
