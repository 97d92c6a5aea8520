"""Re-quantize a GGUF's matrices to another block type (default Q8_0), everything else kept:
`python bench/requantize_gguf.py IN.gguf OUT.gguf [Q8_0|Q4_0]`. Used for `saex drift`'s
demo: the same Gemma 3 270M at two precisions is the closest same-width pair of models this
machine has (no -it or fine-tuned Gemma 3 270M is on a package registry). Needs gguf-py."""
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader, GGUFWriter
from gguf.constants import GGUFValueType as V
from gguf.quants import dequantize, quantize

src, dst = sys.argv[1], sys.argv[2]
target = T[sys.argv[3]] if len(sys.argv) > 3 else T.Q8_0
r = GGUFReader(src)
arch = r.fields["general.architecture"]
w = GGUFWriter(dst, arch=bytes(arch.parts[arch.data[0]]).decode())
for name, f in r.fields.items():
    if name.startswith("GGUF.") or name == "general.architecture":
        continue
    vt = f.types[0]
    if vt == V.ARRAY:
        sub = f.types[1]
        if sub == V.STRING:
            val = [bytes(f.parts[i]).decode("utf-8", "surrogateescape") for i in f.data]
        else:
            val = [f.parts[i].tolist()[0] for i in f.data]
        w.add_key_value(name, val, vt, sub_type=sub)
    elif vt == V.STRING:
        w.add_key_value(name, bytes(f.parts[f.data[0]]).decode("utf-8", "surrogateescape"), vt)
    else:
        w.add_key_value(name, f.parts[f.data[0]].tolist()[0], vt)
for t in r.tensors:
    shape = tuple(int(x) for x in reversed(t.shape.tolist()))  # numpy order
    x = dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float32)
    if x.ndim == 2 and shape[-1] % 32 == 0:
        q = quantize(x, target)
        w.add_tensor(t.name, q, raw_shape=q.shape, raw_dtype=target)
    else:
        w.add_tensor(t.name, x)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print(f"wrote {dst} ({target.name})")
