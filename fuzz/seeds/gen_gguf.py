"""Two small GGUF files for the `gguf` fuzz target, laid out as llama.cpp writes real ones:
a Llama (GPT-2 style byte-level BPE tokenizer from the tiny parity fixture, F16 embedding,
Q8_0 and Q4_0 matrices, F32 norms) and a Gemma 3 (SentencePiece-style `llama` tokenizer with
scores and token types, byte fallback, Q8_0 matrices, QK norms). Random weights: the fuzz
target needs real structure, not a real model. Needs numpy and gguf (the reference venv).

    python fuzz/seeds/gen_gguf.py fuzz/seeds
"""
import json
import sys

import gguf
import numpy as np
from gguf import GGMLQuantizationType as Q

out = sys.argv[1]
rng = np.random.default_rng(0)




def add(w, name, shape, qt):
    x = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    if qt == Q.F32:
        w.add_tensor(name, x)
    elif qt == Q.F16:
        w.add_tensor(name, x.astype(np.float16))
    else:
        w.add_tensor(name, gguf.quants.quantize(x, qt), raw_dtype=qt)


def blocks(w, n, d, ff, heads, kv, hd, gemma):
    for i in range(n):
        p = f"blk.{i}."
        add(w, p + "attn_norm.weight", (d,), Q.F32)
        add(w, p + "attn_q.weight", (heads * hd, d), Q.Q8_0)
        add(w, p + "attn_k.weight", (kv * hd, d), Q.Q8_0)
        add(w, p + "attn_v.weight", (kv * hd, d), Q.Q4_0 if not gemma else Q.Q8_0)
        add(w, p + "attn_output.weight", (d, heads * hd), Q.Q8_0)
        add(w, p + "ffn_norm.weight", (d,), Q.F32)
        add(w, p + "ffn_gate.weight", (ff, d), Q.Q8_0)
        add(w, p + "ffn_up.weight", (ff, d), Q.Q4_0 if not gemma else Q.Q8_0)
        add(w, p + "ffn_down.weight", (d, ff), Q.Q8_0)
        if gemma:
            add(w, p + "attn_q_norm.weight", (hd,), Q.F32)
            add(w, p + "attn_k_norm.weight", (hd,), Q.F32)
            add(w, p + "post_attention_norm.weight", (d,), Q.F32)
            add(w, p + "post_ffw_norm.weight", (d,), Q.F32)


def llama():
    tok = json.load(open("fixtures/parity/tiny/llama/tokenizer.json"))
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]
    w = gguf.GGUFWriter(f"{out}/tiny-llama.gguf", "llama")
    w.add_name("tiny-llama (fuzz seed)")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(32)
    w.add_feed_forward_length(64)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([1] * len(vocab))
    w.add_token_merges(merges)
    w.add_bos_token_id(0)
    w.add_eos_token_id(0)
    w.add_add_bos_token(False)
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")
    add(w, "token_embd.weight", (len(vocab), 32), Q.F16)
    blocks(w, 1, 32, 64, 2, 1, 16, False)
    add(w, "output_norm.weight", (32,), Q.F32)
    add(w, "output.weight", (len(vocab), 32), Q.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def gemma3():
    pieces = ["<pad>", "<eos>", "<bos>", "<unk>"] + [f"<0x{b:02X}>" for b in range(256)]
    words = ["▁the", "▁a", "▁Hello", "▁world", "▁of", "▁and", "▁to", "▁in", "▁is", "▁fox",
             "▁quick", "▁brown", "e", "t", "a", "o", "▁", "s", "n", "r", "i", "h", "l", "d", ","]
    pieces += words
    types = [3, 3, 3, 2] + [6] * 256 + [1] * len(words)
    scores = [0.0] * 260 + [-float(i) for i in range(len(words))]
    w = gguf.GGUFWriter(f"{out}/tiny-gemma3.gguf", "gemma3")
    w.add_name("tiny-gemma3 (fuzz seed)")
    w.add_block_count(1)
    w.add_context_length(128)
    w.add_embedding_length(32)
    w.add_feed_forward_length(64)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_key_length(16)
    w.add_value_length(16)
    w.add_rope_freq_base(1000000.0)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_sliding_window(16)
    w.add_tokenizer_model("llama")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(2)
    w.add_eos_token_id(1)
    w.add_unk_token_id(3)
    w.add_pad_token_id(0)
    w.add_add_bos_token(True)
    add(w, "token_embd.weight", (len(pieces), 32), Q.Q8_0)
    blocks(w, 1, 32, 64, 2, 1, 16, True)
    add(w, "output_norm.weight", (32,), Q.F32)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


llama()
gemma3()
