#!/usr/bin/env python3
# Usage: python3 seed_safetensors.py corpus/safetensors_bert   (see README.md)
# Seeds for the safetensors_bert fuzz target: a tiny valid BERT checkpoint (hidden 4,
# intermediate 8, one layer) and a small file with one tensor of every dtype.
import json, struct, sys, os
out = sys.argv[1]
def write(path, tensors, meta=None):
    header, data = {}, b""
    if meta: header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)
def f32(shape, seed=1):
    n = 1
    for d in shape: n *= d
    return ("F32", shape, struct.pack(f"<{n}f", *[((i * 7 + seed) % 11 - 5) / 10 for i in range(n)]))
H, I, V, P, T = 4, 8, 5, 8, 2
t = {
    "embeddings.word_embeddings.weight": f32([V, H]),
    "embeddings.position_embeddings.weight": f32([P, H], 2),
    "embeddings.token_type_embeddings.weight": f32([T, H], 3),
    "embeddings.LayerNorm.weight": f32([H], 4),
    "embeddings.LayerNorm.bias": f32([H], 5),
}
a = "encoder.layer.0.attention"
for lin, (o, i) in {f"{a}.self.query": (H, H), f"{a}.self.key": (H, H), f"{a}.self.value": (H, H),
                    f"{a}.output.dense": (H, H), "encoder.layer.0.intermediate.dense": (I, H),
                    "encoder.layer.0.output.dense": (H, I)}.items():
    t[lin + ".weight"] = f32([o, i], 6)
    t[lin + ".bias"] = f32([o], 7)
for ln in [f"{a}.output.LayerNorm", "encoder.layer.0.output.LayerNorm"]:
    t[ln + ".weight"] = f32([H], 8)
    t[ln + ".bias"] = f32([H], 9)
write(os.path.join(out, "tiny_bert.safetensors"), t, {"format": "pt"})
write(os.path.join(out, "dtypes.safetensors"), {
    "f32": f32([2]), "f16": ("F16", [2], struct.pack("<2H", 0x3c00, 0xc000)),
    "bf16": ("BF16", [1, 2], struct.pack("<2H", 0x3f80, 0x4000)),
    "i64": ("I64", [2], struct.pack("<2q", 1, -1)), "i32": ("I32", [1], struct.pack("<i", 3)),
    "i8": ("I8", [3], b"\x01\xff\x02"), "u8": ("U8", [2], b"\x00\xff"), "b": ("BOOL", [2], b"\x00\x01"),
    "empty": ("F32", [0, 3], b""), "scalar": ("F32", [], struct.pack("<f", 1.5)),
})
