"""Safetensors read and write by hand (F32, I32, I64; little-endian; header padded to 8 bytes).

Used for the scratch checkpoints, the exported model.safetensors and the golden files.
"""
import json
import struct

import numpy as np
import torch

_DT = {torch.float32: ("F32", np.float32), torch.int32: ("I32", np.int32), torch.int64: ("I64", np.int64)}
_DT_BACK = {"F32": np.float32, "I32": np.int32, "I64": np.int64}


def save_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    off = 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        code, npdt = _DT[t.dtype]
        b = t.numpy().astype(npdt, copy=False).astype(np.dtype(npdt).newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype=np.dtype(_DT_BACK[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(_DT_BACK[info["dtype"]]).reshape(info["shape"]).copy())
    return out
