#!/usr/bin/python3
"""PyTorch eager baseline for `npm run bench:infer`: the same Qwen2/Llama decoder written with
torch ops (transformers is not installed here), the same safetensors weights, the same greedy
loop with a KV cache. Prints one JSON object, with this process's peak RSS.

Weights are read tensor by tensor (F32, F16 or BF16; one file or shards listed in
model.safetensors.index.json) and converted on load to the compute dtype: f32 (default) or bf16
(--dtype bf16; Debian's torch 1.13 has no fast bf16 CPU matmul, so that mode is slow).

The JSON names the BLAS this process loaded and its threads: Debian's torch calls whatever
libblas.so.3 the alternatives system points at, and the reference libblas3 is ~13x slower.

Batch mode (--batch-prompts "1,2,3;4,5,6", B rows of one length, for `npm run bench:batch`): the
same decoder on [B, S] ids with a [B, kvH, P, D] KV cache per layer, B greedy sequences decoded
together for --new-tokens each (no EOS), aggregate rates over every row (see ./infer_torch_batch.py).

Usage: infer_torch.py --model DIR --prompt-ids 1,2,3 --new-tokens N [--threads T] [--dtype f32|bf16]
       infer_torch.py --model DIR --batch-prompts 1,2;3,4 --new-tokens N [--threads T]"""
import argparse, ctypes, json, math, os, re, struct, time
import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path, dtype):
    """Every tensor of one safetensors file in `dtype`, read with plain reads (not a memory map, so
    the file's pages do not count in this process's peak RSS)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        out = {}
        for name, t in header.items():
            if name == "__metadata__":
                continue
            b, e = t["data_offsets"]
            raw = np.empty(e - b, dtype=np.uint8)
            f.seek(8 + n + b)
            assert f.readinto(memoryview(raw)) == e - b, f"{name}: short read"
            if t["dtype"] == "F32":
                x = torch.from_numpy(raw.view(np.float32))
            elif t["dtype"] == "F16":
                x = torch.from_numpy(raw.view(np.float16))
            elif t["dtype"] == "BF16":
                x = torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16)
            else:
                raise ValueError(f"{name}: {t['dtype']} (the baseline reads F32, F16 and BF16)")
            out[name] = x.reshape(t["shape"]).to(dtype)
            del raw
    return out


def load_checkpoint(model_dir, dtype):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        return load_safetensors(os.path.join(model_dir, "model.safetensors"), dtype)
    out = {}
    for shard in sorted(set(json.load(open(index))["weight_map"].values())):
        out.update(load_safetensors(os.path.join(model_dir, shard), dtype))
    return out


def rss_bytes(field):
    """VmHWM: this process's own peak RSS (it belongs to the address space, which execve replaces;
    getrusage's ru_maxrss would carry the parent's peak across the exec: Linux keeps it). VmRSS: now."""
    return int(re.search(field + r":\s+(\d+) kB", open("/proc/self/status").read()).group(1)) * 1024


def blas_in_use():
    """The BLAS library mapped into this process, with OpenBLAS's build, core and threads when it is OpenBLAS."""
    F.linear(torch.ones(8, 8), torch.ones(8, 8))  # make sure the BLAS is loaded
    libs = sorted({os.path.realpath(line.split()[-1]) for line in open("/proc/self/maps")
                   if "blas" in line.rsplit("/", 1)[-1]})
    info = {"libraries": libs}
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
        except (OSError, AttributeError):
            continue
        info.update(openblas=lib.openblas_get_config().decode(), core=lib.openblas_get_corename().decode(),
                    threads=lib.openblas_get_num_threads())
        break
    return info


class Decoder:
    def __init__(self, cfg, w):
        self.cfg, self.w = cfg, w
        self.H, self.nH = cfg["hidden_size"], cfg["num_attention_heads"]
        self.kvH = cfg.get("num_key_value_heads", self.nH)
        self.D = cfg.get("head_dim", self.H // self.nH)
        self.L, self.eps = cfg["num_hidden_layers"], cfg["rms_norm_eps"]
        theta = cfg.get("rope_theta", 10000.0)
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, self.D, 2).float() / self.D))
        self.head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
        self.bias = "model.layers.0.self_attn.q_proj.bias" in w
        self.dtype = self.head.dtype

    def rms(self, x, weight):
        """In f32 whatever the compute dtype, as Hugging Face's Qwen2RMSNorm does."""
        xf = x.float()
        return weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(self.dtype)

    @staticmethod
    def rot(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def forward(self, ids, cache):
        """ids: [S] new tokens; cache: list of (k, v) [kvH, P, D] or None. Returns last logits [V], cache."""
        w, S = self.w, ids.shape[0]
        P = 0 if cache[0] is None else cache[0][0].shape[1]
        pos = torch.arange(P, P + S, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(self.dtype), emb.sin().to(self.dtype)
        x = F.embedding(ids, w["model.embed_tokens.weight"])  # [S, H]
        mask = torch.full((S, P + S), float("-inf")).triu(P + 1).to(self.dtype)
        rep = self.nH // self.kvH
        for l in range(self.L):
            p = f"model.layers.{l}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            b = (lambda n: w[p + f"self_attn.{n}.bias"]) if self.bias else (lambda n: None)
            q = F.linear(h, w[p + "self_attn.q_proj.weight"], b("q_proj")).view(S, self.nH, self.D).transpose(0, 1)
            k = F.linear(h, w[p + "self_attn.k_proj.weight"], b("k_proj")).view(S, self.kvH, self.D).transpose(0, 1)
            v = F.linear(h, w[p + "self_attn.v_proj.weight"], b("v_proj")).view(S, self.kvH, self.D).transpose(0, 1)
            q = q * cos + self.rot(q) * sin
            k = k * cos + self.rot(k) * sin
            if cache[l] is not None:
                k = torch.cat((cache[l][0], k), dim=1)
                v = torch.cat((cache[l][1], v), dim=1)
            cache[l] = (k, v)
            kr = k.repeat_interleave(rep, dim=0)  # repeat_kv
            vr = v.repeat_interleave(rep, dim=0)
            att = torch.matmul(q, kr.transpose(1, 2)) / math.sqrt(self.D) + mask
            o = torch.matmul(torch.softmax(att, dim=-1), vr).transpose(0, 1).reshape(S, self.nH * self.D)
            x = x + F.linear(o, w[p + "self_attn.o_proj.weight"])
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            x = x + F.linear(F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"]), w[p + "mlp.down_proj.weight"])
        x = self.rms(x[-1:], w["model.norm.weight"])
        return F.linear(x, self.head)[0].float(), cache


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompt-ids")
    ap.add_argument("--batch-prompts", help="B prompts of one length, ';' between them: batch mode")
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3, help="measured runs; the best of each rate is kept")
    ap.add_argument("--warmup-s", type=float, default=10.0, help="untimed full runs until this many seconds have passed")
    ap.add_argument("--warmup-new-tokens", type=int, help="batch mode: new tokens of the warm-up runs (default --new-tokens)")
    ap.add_argument("--dtype", choices=("f32", "bf16"), default="f32", help="compute dtype; weights are converted on load")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(f"{a.model}/config.json"))
    t = time.perf_counter()
    m = Decoder(cfg, load_checkpoint(a.model, torch.float32 if a.dtype == "f32" else torch.bfloat16))
    load_s = time.perf_counter() - t
    if a.batch_prompts:
        from infer_torch_batch import measure_batch
        rows = [[int(s) for s in row.split(",")] for row in a.batch_prompts.split(";")]
        out = measure_batch(m, rows, a.new_tokens, a.reps, a.warmup_s, a.warmup_new_tokens or a.new_tokens)
        print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(), "load_s": load_s,
                          "dtype": a.dtype, **out, "max_rss_bytes": rss_bytes("VmHWM"), "end_rss_bytes": rss_bytes("VmRSS")}))
        return
    prompt = torch.tensor([int(s) for s in a.prompt_ids.split(",")], dtype=torch.long)
    best = {}
    with torch.inference_mode():
        def greedy():
            logits, cache = m.forward(prompt, [None] * m.L)
            ids = [int(torch.argmax(logits))]
            while len(ids) < a.new_tokens:
                logits, cache = m.forward(torch.tensor([ids[-1]]), cache)
                ids.append(int(torch.argmax(logits)))
        w0 = time.perf_counter()
        while True:  # warm-up: full untimed runs, as on the onnxruntime-web side
            greedy()
            if time.perf_counter() - w0 >= a.warmup_s:
                break
        for _ in range(a.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            logits, cache = m.forward(prompt, [None] * m.L)
            prefill, prefill_cpu = time.perf_counter() - t0, time.process_time() - c0
            ids = [int(torch.argmax(logits))]
            ttft = time.perf_counter() - t0
            t1, c1 = time.perf_counter(), time.process_time()
            while len(ids) < a.new_tokens:
                logits, cache = m.forward(torch.tensor([ids[-1]]), cache)
                ids.append(int(torch.argmax(logits)))
            decode, decode_cpu = time.perf_counter() - t1, time.process_time() - c1
            n = len(ids) - 1
            run = {"prefill_tok_s": len(prompt) / prefill, "ttft_ms": -ttft * 1e3, "decode_tok_s": n / decode if decode > 0 else 0.0,
                   "prefill_tok_cpu_s": len(prompt) / max(prefill_cpu, 1e-9), "decode_tok_cpu_s": n / max(decode_cpu, 1e-9)}
            for k, v in run.items():
                best[k] = max(best.get(k, v), v)
    best["ttft_ms"] = -best["ttft_ms"]
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_in_use(), "load_s": load_s, "reps": a.reps, "dtype": a.dtype,
        "prompt_tokens": len(prompt), "new_tokens": len(ids), **best, "ids": ids,
        "max_rss_bytes": rss_bytes("VmHWM"), "end_rss_bytes": rss_bytes("VmRSS"),
    }))

if __name__ == "__main__":
    main()
