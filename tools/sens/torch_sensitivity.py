"""Sens-Merging sensitivities by PyTorch autograd, the reference for the lab's own backward pass.

    /usr/bin/python3 tools/sens/torch_sensitivity.py REQUEST.json OUT.json

REQUEST: {"model_dir": DIR, "samples": [{"ids": [...], "targets": [k, ...]}], "probes": {tensor: [flat index, ...]}}
(targets: token indices k >= 1 whose ids[k] enter the mean next-token cross-entropy, predicted at k - 1).
OUT, per sample: the loss, per tensor sum|theta * grad| and sum(theta * grad), and the raw gradient
at the probed indices. A Qwen2 / Llama decoder written from transformers' modeling_qwen2 in float64
(weights read from safetensors by hand: F32, F16, BF16), with no code shared with the lab.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif info["dtype"] == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: {name}: dtype {info['dtype']} not handled")
        out[name] = torch.tensor(arr.astype(np.float64).reshape(info["shape"]))
    return out


def load_model(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    index = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) else ["model.safetensors"]
    params = {}
    for f in files:
        params.update(read_safetensors(os.path.join(d, f)))
    for t in params.values():
        t.requires_grad_(True)
    return cfg, params


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward_loss(cfg, p, ids, targets):
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    hd = cfg.get("head_dim") or hidden // heads
    eps = cfg["rms_norm_eps"]
    n = len(ids)
    # inverse frequencies in float32, as transformers computes them
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    ang = torch.arange(n, dtype=torch.float64)[:, None] * inv.to(torch.float64)[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    ids_t = torch.tensor(ids)
    x = p["model.embed_tokens.weight"][ids_t]
    mask = torch.full((n, n), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        h = rms_norm(x, p[pre + "input_layernorm.weight"], eps)

        def proj(name):
            y = h @ p[pre + f"self_attn.{name}_proj.weight"].T
            b = p.get(pre + f"self_attn.{name}_proj.bias")
            return y if b is None else y + b

        q = proj("q").view(n, heads, hd).transpose(0, 1)
        k = proj("k").view(n, kv, hd).transpose(0, 1)
        v = proj("v").view(n, kv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv, dim=0)
        v = v.repeat_interleave(heads // kv, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / (hd ** 0.5) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(n, heads * hd)
        x = x + o @ p[pre + "self_attn.o_proj.weight"].T
        h = rms_norm(x, p[pre + "post_attention_layernorm.weight"], eps)
        g = h @ p[pre + "mlp.gate_proj.weight"].T
        u = h @ p[pre + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ p[pre + "mlp.down_proj.weight"].T
    x = rms_norm(x, p["model.norm.weight"], eps)
    head = p["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else p["lm_head.weight"]
    pos = torch.tensor([k - 1 for k in targets])
    logits = x[pos] @ head.T
    return torch.nn.functional.cross_entropy(logits, ids_t[torch.tensor(targets)])


def main(req_path, out_path):
    req = json.load(open(req_path))
    cfg, params = load_model(req["model_dir"])
    tied = bool(cfg.get("tie_word_embeddings"))
    results = []
    for s in req["samples"]:
        for t in params.values():
            t.grad = None
        loss = forward_loss(cfg, params, s["ids"], s["targets"])
        loss.backward()
        tensors = {}
        for name, t in params.items():
            if tied and name == "lm_head.weight":
                continue
            prod = t.detach() * t.grad
            tensors[name] = {"abs": prod.abs().sum().item(), "signed": prod.sum().item()}
        grads = {name: [params[name].grad.reshape(-1)[i].item() for i in idx] for name, idx in req["probes"].items()}
        results.append({"loss": loss.item(), "tensors": tensors, "gradients": grads})
    json.dump({"torch": torch.__version__, "samples": results}, open(out_path, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
