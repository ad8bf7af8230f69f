#!/usr/bin/python3
"""Peer rows for bench:merge: the same TA / TIES merge as bench/merge-run.ts, streamed tensor by
tensor (each tensor read whole, merged, written, freed) in numpy (f32 arithmetic, as Merge Lab's)
or in PyTorch following mergekit's generalized task arithmetic (arithmetic in the checkpoint's
dtype, magnitude trimming by argsort of |delta| as float, sign election by the sum, disjoint mean
divided by the agreeing weights). Prints one JSON line: time, bytes read and written, peak RSS
(VmHWM of this process).

  merge_peer.py --lib torch|numpy --method task_arithmetic|ties --data DIR --out FILE [--threads N]
"""
import argparse, json, os, struct, time

import numpy as np

WEIGHTS = [0.5, 0.5]
DENSITY = 0.3
MODELS = ["qwen-base", "qwen-ft1", "qwen-ft2"]


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)), 8 + n


def read_tensor(f, start, info):
    a, b = info["data_offsets"]
    buf = bytearray(b - a)
    f.seek(start + a)
    f.readinto(buf)
    return buf


# ------------------------------------------------------------------ numpy (f32 arithmetic)

def np_decode(raw, dtype):
    if dtype == "F16":
        return np.frombuffer(raw, np.float16).astype(np.float32)
    u = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
    return u.view(np.float32)


def np_encode(x, dtype):
    if dtype == "F16":
        return x.astype(np.float16).tobytes()
    b = x.view(np.uint32)
    return ((b + (0x7FFF + ((b >> 16) & 1))) >> 16).astype(np.uint16).tobytes()


def np_merge(method, raws, dtype):
    base, *models = (np_decode(r, dtype) for r in raws)
    deltas = [m - base for m in models]
    del models
    if method == "task_arithmetic":
        out = base
        for w, d in zip(WEIGHTS, deltas):
            out += np.float32(w) * d
        return np_encode(out, dtype)
    n = base.size
    k = int(DENSITY * n)
    weighted = []
    for w, d in zip(WEIGHTS, deltas):
        a = np.abs(d)
        thresh = np.partition(a, n - k)[n - k] if 0 < k < n else (np.inf if k <= 0 else 0)
        weighted.append(np.where(a >= thresh, np.float32(w) * d, np.float32(0)))
        del a
    del deltas
    sign = np.where(sum(weighted) >= 0, np.float32(1), np.float32(-1))
    mixed = np.zeros_like(base)
    div = np.zeros_like(base)
    for w, x in zip(WEIGHTS, weighted):
        agree = (x * sign) > 0
        mixed += np.where(agree, x, np.float32(0))
        div += np.where(agree, np.float32(w), np.float32(0))
    div[div == 0] = 1
    return np_encode(base + mixed / div, dtype)


# ------------------------------------------------------------------ PyTorch, as mergekit

def torch_merge(method, raws, dtype):
    import torch

    tdt = torch.float16 if dtype == "F16" else torch.bfloat16
    base, *models = (torch.frombuffer(r, dtype=tdt) for r in raws)
    deltas = [m - base for m in models]  # mergekit get_task_vectors
    del models
    if method == "ties":  # mergekit sparsify.magnitude
        k = int(DENSITY * base.numel())
        trimmed = []
        for d in deltas:
            mask = torch.zeros_like(d)
            w = d.abs().view(-1).float()
            mask.view(-1)[torch.argsort(w, descending=True)[:k]] = 1
            trimmed.append(d * mask)
            del w, mask
        deltas = trimmed
    stacked = torch.stack(deltas, dim=0)
    del deltas
    weights = torch.tensor(WEIGHTS, dtype=stacked.dtype).unsqueeze(-1)
    weighted = stacked * weights
    del stacked
    if method == "ties":  # mergekit get_mask(method="sum"), normalize
        sign = weighted.sign()
        majority = (weighted.sum(dim=0) >= 0).to(tdt) * 2 - 1
        mask = sign == majority
        del sign, majority
        mixed = (weighted * mask).sum(dim=0)
        divisor = (weights * mask).sum(dim=0)
        divisor[divisor == 0] = 1
        mixed /= divisor
    else:
        mixed = weighted.sum(dim=0)
    out = (base + mixed).to(tdt)
    return out.view(torch.int16).numpy().tobytes()


def vmhwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=["torch", "numpy"], required=True)
    ap.add_argument("--method", choices=["task_arithmetic", "ties"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.lib == "torch":
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
    merge = torch_merge if args.lib == "torch" else np_merge

    t0 = time.perf_counter()
    paths = [os.path.join(args.data, m, "model.safetensors") for m in args.models.split(",")]
    heads = [header(p) for p in paths]
    names = [n for n in heads[0][0] if n != "__metadata__"]
    out_head, offset = {"__metadata__": {"format": "pt"}}, 0
    for n in names:
        info = heads[0][0][n]
        size = info["data_offsets"][1] - info["data_offsets"][0]
        out_head[n] = {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [offset, offset + size]}
        offset += size
    js = json.dumps(out_head).encode()
    js += b" " * ((8 - (8 + len(js)) % 8) % 8)
    files = [open(p, "rb") for p in paths]
    read = written = 0
    with open(args.out, "wb") as out:
        out.write(struct.pack("<Q", len(js)) + js)
        for n in names:
            raws = [read_tensor(f, start, h[n]) for f, (h, start) in zip(files, heads)]
            read += sum(len(r) for r in raws)
            merged = merge(args.method, raws, heads[0][0][n]["dtype"])
            del raws
            out.write(merged)
            written += len(merged)
    for f in files:
        f.close()
    ms = (time.perf_counter() - t0) * 1000
    threads = (__import__("torch").get_num_threads() if args.lib == "torch" else 1)
    print(json.dumps({"lib": args.lib, "method": args.method, "tensors": len(names), "ms": ms, "bytesRead": read,
                      "bytesWritten": written, "maxRssMB": vmhwm_mb(), "threads": threads}))


if __name__ == "__main__":
    main()
