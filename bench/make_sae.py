"""Write a random SAELens-format standard SAE (d_in 768, d_sae 24576 unless given) on
blocks.6.hook_resid_pre for benchmarks: `python bench/make_sae.py OUT_DIR [D_IN D_SAE]`. Encoder biases are
negative so that about 1% of features fire on the N(0, 3²) inputs of the encode benchmark
(pre-activation std 3, threshold 7: 2.3 sigma), as in trained SAEs."""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
g = torch.Generator().manual_seed(0)
d_in, d_sae = (int(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (768, 24576)
w_enc = torch.randn(d_in, d_sae, generator=g) / d_in**0.5
save_file({"W_enc": w_enc, "W_dec": w_enc.T.contiguous(), "b_enc": torch.full((d_sae,), -7.0), "b_dec": torch.zeros(d_in)},
          str(out / "sae_weights.safetensors"))
(out / "cfg.json").write_text(json.dumps({
    "d_in": d_in, "d_sae": d_sae, "dtype": "float32", "device": "cpu", "architecture": "standard",
    "apply_b_dec_to_input": True, "normalize_activations": "none",
    "metadata": {"model_name": "gpt2-small-random", "hook_name": "blocks.6.hook_resid_pre", "sae_lens_version": "6.54.12"},
}, indent=2))
