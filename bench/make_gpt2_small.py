"""Write a random-weight GPT-2-small-shaped HF checkpoint (12 layers, d_model 768, vocab 50257)
for benchmarks: `python bench/make_gpt2_small.py OUT_DIR`. No real GPT-2 weights are
obtainable here; speed does not depend on the values. Needs torch + transformers."""
import shutil
import sys
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel

out = Path(sys.argv[1])
torch.manual_seed(0)
# n_ctx: transformers 5 no longer writes it, TransformerLens 3.9 still reads it.
cfg = GPT2Config(vocab_size=50257, n_positions=1024, n_ctx=1024, n_embd=768, n_layer=12, n_head=12)
GPT2LMHeadModel(cfg).eval().save_pretrained(out, safe_serialization=True)
# Any tokenizer.json works for id-level benchmarks; take the fixture one.
shutil.copy(Path(__file__).parent.parent / "fixtures/parity/tiny/gpt2/tokenizer.json", out / "tokenizer.json")
