"""Batch mode of bench/infer_torch.py (the PyTorch peer of `npm run bench:batch`): the same decoder
on B sequences at once, ids [B, S] of one length (no padding, so no mask beyond the causal one),
a [B, kvH, P, D] key and value cache per layer grown by concatenation as the single-sequence loop
does, and the same greedy loop: one argmax per row per step, no EOS, --new-tokens tokens per row."""
import math
import time

import torch
import torch.nn.functional as F


def forward_batch(m, ids, cache):
    """ids: [B, S] new tokens; cache: list of (k, v) [B, kvH, P, D] or None. Returns last logits [B, V], cache."""
    w, (B, S) = m.w, ids.shape
    P = 0 if cache[0] is None else cache[0][0].shape[2]
    pos = torch.arange(P, P + S, dtype=torch.float32)
    freqs = torch.outer(pos, m.inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(m.dtype), emb.sin().to(m.dtype)  # [S, D], broadcast over B and heads
    x = F.embedding(ids, w["model.embed_tokens.weight"])  # [B, S, H]
    mask = torch.full((S, P + S), float("-inf")).triu(P + 1).to(m.dtype)
    rep = m.nH // m.kvH
    heads = lambda t, n: t.view(B, S, n, m.D).transpose(1, 2)  # [B, n, S, D]
    for l in range(m.L):
        p = f"model.layers.{l}."
        h = m.rms(x, w[p + "input_layernorm.weight"])
        b = (lambda n: w[p + f"self_attn.{n}.bias"]) if m.bias else (lambda n: None)
        q = heads(F.linear(h, w[p + "self_attn.q_proj.weight"], b("q_proj")), m.nH)
        k = heads(F.linear(h, w[p + "self_attn.k_proj.weight"], b("k_proj")), m.kvH)
        v = heads(F.linear(h, w[p + "self_attn.v_proj.weight"], b("v_proj")), m.kvH)
        q = q * cos + m.rot(q) * sin
        k = k * cos + m.rot(k) * sin
        if cache[l] is not None:
            k = torch.cat((cache[l][0], k), dim=2)
            v = torch.cat((cache[l][1], v), dim=2)
        cache[l] = (k, v)
        kr = k.repeat_interleave(rep, dim=1)  # repeat_kv
        vr = v.repeat_interleave(rep, dim=1)
        att = torch.matmul(q, kr.transpose(2, 3)) / math.sqrt(m.D) + mask
        o = torch.matmul(torch.softmax(att, dim=-1), vr).transpose(1, 2).reshape(B, S, m.nH * m.D)
        x = x + F.linear(o, w[p + "self_attn.o_proj.weight"])
        h = m.rms(x, w[p + "post_attention_layernorm.weight"])
        up = F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"])
        x = x + F.linear(up, w[p + "mlp.down_proj.weight"])
    x = m.rms(x[:, -1], w["model.norm.weight"])
    return F.linear(x, m.head).float(), cache


def greedy_batch(m, prompts, new_tokens):
    """Prefill [B, S] in one call, then decode the B rows together. Returns ids per row and the rates."""
    B = prompts.shape[0]
    t0, c0 = time.perf_counter(), time.process_time()
    logits, cache = forward_batch(m, prompts, [None] * m.L)
    ids = [torch.argmax(logits, dim=-1)]
    prefill, prefill_cpu = time.perf_counter() - t0, time.process_time() - c0
    t1, c1 = time.perf_counter(), time.process_time()
    while len(ids) < new_tokens:
        logits, cache = forward_batch(m, ids[-1].view(B, 1), cache)
        ids.append(torch.argmax(logits, dim=-1))
    decode, decode_cpu = time.perf_counter() - t1, time.process_time() - c1
    n = B * (len(ids) - 1)
    rates = {"prefill_tok_s": prompts.numel() / prefill, "prefill_tok_cpu_s": prompts.numel() / max(prefill_cpu, 1e-9),
             "decode_tok_s": n / decode if decode > 0 else 0.0, "decode_tok_cpu_s": n / max(decode_cpu, 1e-9),
             "decode_step_ms": decode / max(len(ids) - 1, 1) * 1e3}
    return torch.stack(ids, dim=1).tolist(), rates


def measure_batch(m, rows, new_tokens, reps, warmup_s, warmup_new_tokens):
    """Untimed runs of warmup_new_tokens for warmup_s seconds (at least one), then the best of `reps` runs for each rate."""
    prompts = torch.tensor(rows, dtype=torch.long)
    best = {}
    with torch.inference_mode():
        w0 = time.perf_counter()
        while True:
            greedy_batch(m, prompts, warmup_new_tokens)
            if time.perf_counter() - w0 >= warmup_s:
                break
        for _ in range(reps):
            ids, rates = greedy_batch(m, prompts, new_tokens)
            for k, v in rates.items():
                best[k] = min(best.get(k, v), v) if k == "decode_step_ms" else max(best.get(k, v), v)
    return {"batch": len(rows), "prompt_tokens": len(rows[0]), "new_tokens": new_tokens, "reps": reps, **best, "ids": ids}
