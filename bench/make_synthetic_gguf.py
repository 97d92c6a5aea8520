"""A full-size GGUF with random weights behind a real model's header: for speed and memory
measurements when only the first parts of a byte-split model are reachable.

    python bench/make_synthetic_gguf.py HEADER_SOURCE.gguf[.partial] OUT.gguf

Copies HEADER_SOURCE's bytes up to the start of its tensor data (metadata, tokenizer, tensor
directory: names, shapes, types, offsets all real), then writes every tensor with random
packed values and sane block scales (f16 `d`/`dmin` around 1e-3..1e-2), norms 1.0 and biases
near 0, so a forward pass stays finite. The values are meaningless; the sizes, types, layout
and therefore the cost of reading and multiplying them are the real model's. Needs numpy.
"""
import struct
import sys

import numpy as np

src, dst = sys.argv[1], sys.argv[2]
f = open(src, "rb")
magic, ver, n_t, n_kv = struct.unpack("<4sIQQ", f.read(24))
assert magic == b"GGUF" and ver in (2, 3)


def s():
    return f.read(struct.unpack("<Q", f.read(8))[0])


SIZE = {0: 4, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip(t):
    if t == 8:
        s()
    elif t == 9:
        et, n = struct.unpack("<IQ", f.read(12))
        for _ in range(n):
            skip(et)
    else:
        f.read(SIZE[t])


align = 32
for _ in range(n_kv):
    k = s()
    t = struct.unpack("<I", f.read(4))[0]
    if k == b"general.alignment":
        align = struct.unpack("<I", f.read(4))[0]
    else:
        skip(t)
tensors = []
for _ in range(n_t):
    name = s().decode()
    nd = struct.unpack("<I", f.read(4))[0]
    dims = struct.unpack(f"<{nd}Q", f.read(8 * nd))
    t, off = struct.unpack("<IQ", f.read(12))
    tensors.append((off, name, dims, t))
start = (f.tell() + align - 1) // align * align
f.seek(0)
header = f.read(start)
assert len(header) == start, "the header source is shorter than its own header"
# bytes per block, values per block, offsets of f16 scales in a block
BLK = {0: (4, 1, []), 12: (144, 256, [0, 2]), 14: (210, 256, [208]), 8: (34, 32, [0]), 2: (18, 32, [0]),
       3: (20, 32, [0, 2]), 6: (22, 32, [0]), 13: (176, 256, [0, 2])}
rng = np.random.default_rng(0)
with open(dst, "wb") as o:
    o.write(header)
    for off, name, dims, t in sorted(tensors):
        n = int(np.prod(dims))
        bb, bv, scales = BLK[t]
        o.seek(start + off)
        if t == 0:
            v = np.ones(n, np.float32) if "norm" in name else (rng.standard_normal(n) * 0.02).astype(np.float32)
            o.write(v.tobytes())
            continue
        nb = n // bv
        for c0 in range(0, nb, 1 << 20):  # 1M blocks at a time
            c = min(1 << 20, nb - c0)
            b = rng.integers(0, 256, size=(c, bb), dtype=np.uint8)
            for at in scales:
                b[:, at:at + 2] = (rng.uniform(1e-3, 1e-2, c).astype(np.float16)).view(np.uint8).reshape(c, 2)
            o.write(b.tobytes())
print(dst)
