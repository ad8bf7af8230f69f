"""The device check's PyTorch peer: the same TA and TIES merges as bench/device/merge-one.ts, streamed
tensor by tensor on the machine's own GPU (CUDA; the CPU when torch has none, and the result says so).

Each tensor of base, ft1 and ft2 is read from its safetensors shard (mmap, no copy), moved to the
device, merged with mergekit's arithmetic in the checkpoint's dtype, as bench/merge_peer.py does on
the CPU (task vectors delta = model - base, weighted; TIES: magnitude top-k per tensor, sign election
by the sign of the weighted sum, zero counted as positive, disjoint mean normalised by the agreeing
weights), moved back and appended to one output safetensors file whose header is written first. Prints one
JSON line with the time, the bytes read and written, this process's peak RSS and the device's peak.

    python3 bench/device/merge_torch.py --data DIR --method ta|ties [--device auto|cuda|cpu] [--out FILE]
"""
import argparse
import json
import mmap
import os
import struct
import time

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
SIZES = {"F32": 4, "F16": 2, "BF16": 2}
WEIGHTS = (0.5, 0.5)
DENSITY = 0.3


class Checkpoint:
    """The tensors of a Hugging Face checkpoint folder (one file or shards with an index), by name."""

    def __init__(self, folder):
        index = os.path.join(folder, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index) as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        else:
            files = ["model.safetensors"]
        self.tensors = {}
        self.maps = []
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
            self.maps.append(mm)
            for key, info in header.items():
                if key != "__metadata__":
                    self.tensors[key] = (mm, 8 + n, info)

    def read(self, name):
        mm, data_start, info = self.tensors[name]
        begin, end = info["data_offsets"]
        count = (end - begin) // SIZES[info["dtype"]]
        flat = torch.frombuffer(mm, dtype=DTYPES[info["dtype"]], count=count, offset=data_start + begin)
        return flat.view(info["shape"]) if info["shape"] else flat.view(()), end - begin


def magnitude_mask(delta, density):
    """mergekit's magnitude sparsification: keep the k largest |delta| of the tensor."""
    k = int(density * delta.numel())
    if k <= 0:
        return torch.zeros_like(delta)
    top = torch.argsort(delta.abs().reshape(-1).float(), descending=True)[:k]
    mask = torch.zeros(delta.numel(), device=delta.device, dtype=delta.dtype)
    mask[top] = 1
    return mask.view(delta.shape)


def merge_tensor(method, base, models):
    """mergekit's generalized task arithmetic, in the checkpoint's dtype as mergekit computes."""
    deltas = torch.stack([m - base for m in models])
    weights = torch.tensor(WEIGHTS, device=deltas.device, dtype=deltas.dtype).view(-1, *([1] * base.dim()))
    if method == "ta":
        return base + (deltas * weights).sum(dim=0)
    deltas = torch.stack([d * magnitude_mask(d, DENSITY) for d in deltas])
    weighted = deltas * weights
    majority = (weighted.sum(dim=0) >= 0).to(deltas.dtype) * 2 - 1
    agree = torch.sign(weighted) == majority
    mixed = (weighted * agree).sum(dim=0)
    divisor = (weights * agree).sum(dim=0)
    divisor[divisor.abs() < 1e-8] = 1
    return base + mixed / divisor


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--method", choices=["ta", "ties"], required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out")
    ap.add_argument("--result", help="also write the JSON result to this file")
    a = ap.parse_args()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if a.device == "auto" and cuda else ("cpu" if a.device == "auto" else a.device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (torch has no CUDA device)"
    torch.zeros(1, device=device)  # the CUDA context, outside the timing
    base, ft1, ft2 = (Checkpoint(os.path.join(a.data, m)) for m in ("base", "ft1", "ft2"))
    out_path = a.out or os.path.join(a.data, "out-torch-%s.safetensors" % a.method)
    header, offset = {}, 0
    for key, (_, _, info) in base.tensors.items():
        size = info["data_offsets"][1] - info["data_offsets"][0]
        header[key] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + size]}
        offset += size
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    read = written = 0
    t0 = time.perf_counter()
    with open(out_path, "wb") as out:
        out.write(struct.pack("<Q", len(head)) + head)
        for key in base.tensors:
            b, nb = base.read(key)
            m1, n1 = ft1.read(key)
            m2, n2 = ft2.read(key)
            read += nb + n1 + n2
            merged = merge_tensor(a.method, b.to(device), [m1.to(device), m2.to(device)]).to(b.dtype).cpu()
            data = memoryview(merged.contiguous().view(torch.uint8).numpy())
            out.write(data)
            written += data.nbytes
    seconds = time.perf_counter() - t0
    os.remove(out_path)
    result = json.dumps(
        {
            "engine": "torch",
            "method": a.method,
            "device": name,
            "torch": torch.__version__,
            "tensors": len(base.tensors),
            "seconds": seconds,
            "bytesRead": read,
            "bytesWritten": written,
            "peakRssBytes": peak_rss_bytes(),
            "devicePeakBytes": torch.cuda.max_memory_allocated(device) if device.type == "cuda" else 0,
        }
    )
    print(result)
    if a.result:
        with open(a.result, "w") as f:
            f.write(result)


if __name__ == "__main__":
    main()
