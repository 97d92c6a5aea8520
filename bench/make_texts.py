"""Texts of exactly N Gemma tokens (bos not counted) cut from corpus/sample.jsonl, one JSON
object {"text": …} per line: consecutive sample lines are joined and cut at a token end."""
import json
import os
import sys

from transformers import AutoTokenizer

gguf, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
d, f = os.path.split(os.path.abspath(gguf))
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
lines = [json.loads(l)["text"] for l in open("corpus/sample.jsonl")]
texts = []
for i in range(len(lines)):
    joined = lines[i] + "\n" + lines[(i + 1) % len(lines)] + "\n" + lines[(i + 2) % len(lines)]
    enc = tok(joined, add_special_tokens=False, return_offsets_mapping=True)
    if len(enc["input_ids"]) < n:
        continue
    cut = joined[: enc["offset_mapping"][n - 1][1]]
    if len(tok(cut, add_special_tokens=False)["input_ids"]) == n:
        texts.append(cut)
with open(out, "w") as fh:
    for t in texts:
        fh.write(json.dumps({"text": t}) + "\n")
print(len(texts), file=sys.stderr)
