"""llama.cpp (llama-cpp-python) peer of `cargo bench -p saex-model --bench decode`: the same
token ids as prompt, then `--new` greedy tokens (argmax of the last logits, end-of-sequence
ignored), `--threads` threads. Prints one JSON object like the saex bench.

    python bench/llama_cpp_decode.py --model FILE.gguf --ids ids.json [--new 128] [--repeat 3]
    python bench/llama_cpp_decode.py --model FILE.gguf --write-ids ids.json --text prompt.txt --n 128
"""
import argparse
import json
import time

import numpy as np
from llama_cpp import Llama, __version__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids")
    ap.add_argument("--new", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--write-ids")
    ap.add_argument("--text")
    ap.add_argument("--n", type=int, default=128)
    a = ap.parse_args()
    t = time.perf_counter()
    llm = Llama(model_path=a.model, n_threads=a.threads, n_threads_batch=a.threads, n_ctx=1024, n_batch=512,
                verbose=False, logits_all=False)
    load_s = time.perf_counter() - t
    if a.write_ids:
        # The prompt: `--text` tokenized by the model's own tokenizer (with bos), repeated
        # until it has `--n` tokens.
        text = open(a.text).read()
        ids = llm.tokenize(text.encode(), add_bos=True)
        while len(ids) < a.n:
            ids += llm.tokenize((" " + text).encode(), add_bos=False)
        json.dump(ids[: a.n], open(a.write_ids, "w"))
        return
    ids = json.load(open(a.ids))
    n_vocab = llm.n_vocab()

    def last_logits():
        # llama-cpp-python 0.3.36 keeps no scores unless logits_all; read the context's last row.
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))

    prefill, decode, out = [], [], []
    for _ in range(a.repeat):
        llm.reset()
        t = time.perf_counter()
        llm.eval(ids)
        nxt = int(np.argmax(last_logits()))
        prefill.append(time.perf_counter() - t)
        out = [nxt]
        t = time.perf_counter()
        for _ in range(a.new - 1):
            llm.eval([nxt])
            nxt = int(np.argmax(last_logits()))
            out.append(nxt)
        decode.append(time.perf_counter() - t)
    p, d = sorted(prefill)[len(prefill) // 2], sorted(decode)[len(decode) // 2]
    print(json.dumps({
        "model": a.model, "engine": f"llama-cpp-python {__version__}", "threads": a.threads, "load_s": load_s,
        "prompt_tokens": len(ids), "new_tokens": a.new, "prefill_s": p, "prefill_tok_s": len(ids) / p,
        "decode_s": d, "decode_tok_s": (a.new - 1) / d, "tokens": out,
    }))


if __name__ == "__main__":
    main()
