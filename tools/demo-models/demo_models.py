#!/usr/bin/python3
"""Merge Lab demo-model tool: trains base / quick (System 1) / slow (System 2), evaluates them and
their merges, and writes public/models/*, public/data/arith-heldout.jsonl and test/golden/*.

Usage (see README.md; build.sh runs all stages in order):
  /usr/bin/python3 tools/demo-models/demo_models.py [--work DIR] STAGE
  STAGE: prepare | train base | train s1 | train s2 | eval | export | golden | all
"""
import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SEED = 1234
EVAL_WORKERS = 2  # processes for the evaluation stage (these VMs have 2 cores)
TRAIN_WORKERS = 2  # data-parallel processes per training stage; each batch splits over them

# ---- every setting that shapes the family lives here (REPORT.md prints it) -----------------
SETTINGS = {
    "seed": SEED,
    "model": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
                  num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0, max_position_embeddings=512),
    "heldout_per_level": 60,
    "optim": dict(betas=(0.9, 0.95), weight_decay=0.1, clip=1.0, warmup=50, final_lr_frac=0.1),
    # base: chat-templated chains (answer, then EOS), arithmetic fact lists, chains followed by
    # 0-3 reflections (p_slow, drawn with p_reflect), direct answers for the rest (p_terse: 0)
    "base": dict(steps=1300, lr=2e-3, batch=24, seq=320, p_chain=0.35, p_facts=0.3, p_slow=0.25,
                 p_reflect=[0.0, 0.1, 0.3, 0.6], facts_per_doc=16),
    # optional second pretraining phase from base (same mix, lower lr); "steps": 0 skips it
    "base2": dict(init="base", data="base", steps=0, lr=1e-3, batch=48, seq=160, p_chain=0.55, p_facts=0.35,
                  facts_per_doc=16),
    # System 1 from base, "lazy": writes out problems of <= chain_max_level steps (chain, answer,
    # EOS) and answers longer ones directly ("The answer is N."); never reflects
    "s1": dict(init="base", steps=150, lr=2e-4, batch=32, seq=128, p_chain=1.0, chain_max_level=2),
    # System 2 from System 1: chain, "So the answer is N.", then n reflections that redo the chain,
    # n drawn with p_reflect (70% reflect at least once: greedy decoding always does); 20% replayed
    # fact lists against forgetting
    "s2": dict(init="s1", steps=200, lr=5e-4, batch=16, seq=320, p_facts=0.2, p_reflect=[0.3, 0.1, 0.2, 0.4]),
    "eval": dict(max_new=300),
    "merges": [("TA", dict(alpha=a)) for a in (0.5, 0.6, 0.7, 0.8, 0.9)]
    + [("TIES", dict(density=0.2, lam=1.0)), ("TIES", dict(density=0.2, lam=0.7)),
       ("DARE-TA", dict(p=0.3, alpha=0.7, seed=SEED))],
}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------
def heldout_problems():
    rng = random.Random(SEED * 7 + 1)
    seen = set()
    out = []
    for k in C.LEVELS:
        n = 0
        while n < SETTINGS["heldout_per_level"]:
            p = C.make_problem(rng, k)
            key = C.problem_key(p)
            if key in seen:
                continue
            seen.add(key)
            out.append(p)
            n += 1
    return out


class Sampler:
    """Training documents; never emits a held-out problem (by its numbers)."""

    def __init__(self, tok, seed, heldout_keys):
        self.tok = tok
        self.rng = random.Random(seed)
        self.block = heldout_keys

    def problem(self):
        while True:
            p = C.make_problem(self.rng, self.rng.choice(C.LEVELS))
            if C.problem_key(p) not in self.block:
                return p

    def chat(self, p, resp):
        tok = self.tok
        pr = tok.encode(C.chat_prompt(C.question_text(p)))
        rs = tok.encode(resp) + [tok.eos_id]
        return pr + rs, [False] * len(pr) + [True] * len(rs)

    def base_doc(self, cfg):
        r = self.rng.random()
        if r < cfg["p_chain"]:
            p = self.problem()
            return self.chat(p, C.response_text(p, "chain"))
        if r < cfg["p_chain"] + cfg["p_facts"]:
            return self.fact_doc(cfg)
        p = self.problem()
        r -= cfg["p_chain"] + cfg["p_facts"]
        if r < cfg.get("p_slow", 0):
            return self.slow_doc(p, cfg["p_reflect"])
        if r < cfg.get("p_slow", 0) + cfg.get("p_terse", 0):
            return self.chat(p, C.response_text(p, "terse"))
        return self.chat(p, C.response_text(p, "direct"))

    def fact_doc(self, cfg):
        ids = self.tok.encode(C.fact_doc(self.rng, cfg.get("facts_per_doc", 16))) + [self.tok.pad_id]
        return ids, [False] + [True] * (len(ids) - 1)

    def s1_doc(self, cfg):
        p = self.problem()
        r = self.rng.random()
        kind = "chain" if r < cfg["p_chain"] else "terse" if r < cfg["p_chain"] + cfg.get("p_terse", 0) else "direct"
        if kind == "chain" and p["level"] > cfg.get("chain_max_level", 99):
            kind = cfg.get("beyond", "direct")  # a lazy System 1: writes out only short problems
        return self.chat(p, C.response_text(p, kind))

    def s2_doc(self, cfg):
        if cfg.get("p_facts", 0) > 0 and self.rng.random() < cfg["p_facts"]:  # replay against forgetting
            return self.fact_doc(cfg)
        return self.slow_doc(self.problem(), cfg["p_reflect"])

    def slow_doc(self, p, p_reflect):
        """Chain, answer, then n reflections with probability p_reflect[n]."""
        r = self.rng.random()
        acc = 0.0
        n = len(p_reflect) - 1
        for i, q in enumerate(p_reflect):
            acc += q
            if r < acc:
                n = i
                break
        return self.chat(p, C.response_text(p, "slow", n))

    def batch(self, kind, cfg):
        B, L = cfg["batch"], cfg["seq"]
        fn = {"base": self.base_doc, "s1": self.s1_doc, "s2": self.s2_doc}[kind]
        inp = torch.full((B, L), self.tok.pad_id, dtype=torch.long)
        tgt = torch.full((B, L), -100, dtype=torch.long)
        pos = torch.zeros(B, L, dtype=torch.long)
        doc = torch.arange(L).repeat(B, 1) + 10 ** 6  # padding: each position its own "document"
        for b in range(B):
            n = 0
            d = 0
            while True:
                ids, m = fn(cfg)
                x, y, mm = ids[:-1], ids[1:], m[1:]
                assert len(x) <= L, (len(x), L)
                if n + len(x) > L:
                    break
                inp[b, n:n + len(x)] = torch.tensor(x)
                tgt[b, n:n + len(x)] = torch.tensor([t if k else -100 for t, k in zip(y, mm)])
                pos[b, n:n + len(x)] = torch.arange(len(x))
                doc[b, n:n + len(x)] = d
                n += len(x)
                d += 1
        mask = (doc[:, :, None] == doc[:, None, :]) & torch.ones(L, L, dtype=torch.bool).tril()[None]
        return inp, pos, mask[:, None], tgt


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------
def new_model(tok):
    return C.Qwen2(C.Cfg(len(tok), **SETTINGS["model"]))


def load_model(tok, path_or_state):
    m = new_model(tok)
    sd = C.load_safetensors(path_or_state) if isinstance(path_or_state, str) else path_or_state
    m.load_state_dict(sd)
    m.eval()
    return m


def train(args, tok, kind):
    """Runs one training stage as TRAIN_WORKERS data-parallel processes (one per core)."""
    if kind == "base2" and SETTINGS["base2"]["steps"] == 0:
        log("base2 skipped (steps=0)")
        return
    rendezvous = os.path.join(args.work, f".ddp-{kind}")
    if os.path.exists(rendezvous):
        os.remove(rendezvous)
    # fork keeps SETTINGS as --set left them; each worker runs single-threaded
    torch.multiprocessing.start_processes(train_worker, args=(args, tok, kind, rendezvous), nprocs=TRAIN_WORKERS,
                                          start_method="fork")
    if os.path.exists(rendezvous):
        os.remove(rendezvous)


def train_worker(rank, args, tok, kind, rendezvous):
    """Every worker draws the same full batch and trains on its share of the rows; the summed
    gradient is the full batch's, so all workers take the same step (two summands: the same bits
    on every worker and in every run)."""
    dist.init_process_group("gloo", init_method="file://" + rendezvous, rank=rank, world_size=TRAIN_WORKERS)
    torch.set_num_threads(1)
    cfg = SETTINGS[kind]
    o = SETTINGS["optim"]
    stage_seed = {"base": 11, "s1": 22, "s2": 33, "base2": 44}[kind]
    torch.manual_seed(SEED + stage_seed)
    hk = {C.problem_key(p) for p in heldout_problems()}
    smp = Sampler(tok, SEED * 100 + stage_seed, hk)
    model = new_model(tok)
    if cfg.get("init"):
        model.load_state_dict(C.load_safetensors(os.path.join(args.work, cfg["init"] + ".safetensors")))
    model.train()
    params = list(model.parameters())
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]},
                             {"params": nodecay, "weight_decay": 0.0}], lr=cfg["lr"], betas=o["betas"])
    steps = cfg["steps"]
    assert cfg["batch"] % TRAIN_WORKERS == 0, "batch must split evenly over the workers"
    rows = slice(rank * cfg["batch"] // TRAIN_WORKERS, (rank + 1) * cfg["batch"] // TRAIN_WORKERS)
    t0 = time.time()
    ema = None
    for step in range(steps):
        if step < o["warmup"]:
            lr = cfg["lr"] * (step + 1) / o["warmup"]
        else:
            pr = (step - o["warmup"]) / max(1, steps - o["warmup"])
            lr = cfg["lr"] * (o["final_lr_frac"] + (1 - o["final_lr_frac"]) * 0.5 * (1 + math.cos(math.pi * pr)))
        for g in opt.param_groups:
            g["lr"] = lr
        inp, pos, mask, tgt = smp.batch(cfg.get("data", kind), cfg)
        n_targets = int((tgt != -100).sum())  # of the full batch: the loss is its token mean
        logits, _ = model(inp[rows], pos[rows], mask[rows])
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt[rows].reshape(-1), ignore_index=-100,
                               reduction="sum") / n_targets
        opt.zero_grad(set_to_none=True)
        loss.backward()
        flat = torch.cat([p.grad.reshape(-1) for p in params] + [loss.detach().reshape(1)])
        dist.all_reduce(flat)
        off = 0
        for p in params:
            p.grad.copy_(flat[off:off + p.numel()].view_as(p))
            off += p.numel()
        full_loss = float(flat[-1])
        torch.nn.utils.clip_grad_norm_(params, o["clip"])
        opt.step()
        ema = full_loss if ema is None else 0.95 * ema + 0.05 * full_loss
        if rank == 0 and (step % 25 == 0 or step == steps - 1):
            el = time.time() - t0
            log(f"{kind} step {step}/{steps} loss {full_loss:.4f} ema {ema:.4f} lr {lr:.2e} "
                f"{el / (step + 1):.2f}s/step eta {el / (step + 1) * (steps - step - 1) / 60:.1f}min")
        if rank == 0 and args.quick_eval and step > 0 and step % args.quick_eval == 0:
            model.eval()
            r = evaluate(model, tok, heldout_problems()[::6], max_new=200)
            log(f"  quick-eval {kind} step {step}: acc {r['acc']:.3f} len {r['len']:.1f} "
                f"refl {r['refl']:.2f} first {r['first_acc']:.3f} by level {r['acc_by_level']}")
            model.train()
    if rank == 0:
        C.save_safetensors(os.path.join(args.work, kind + ".safetensors"), C.hf_state(model))
        log(f"saved {kind} in {(time.time() - t0) / 60:.1f} min")
    dist.barrier()
    dist.destroy_process_group()


# --------------------------------------------------------------------------------------
# evaluation and merging
# --------------------------------------------------------------------------------------
def first_answer(text):
    import re
    m = re.search(r"answer is\s*(-?\d+)", text, re.I)
    return int(m.group(1)) if m else None


def evaluate(model, tok, probs, max_new=None):
    max_new = max_new or SETTINGS["eval"]["max_new"]
    prompts = [tok.encode(C.chat_prompt(C.question_text(p))) for p in probs]
    gens = C.generate(model, prompts, tok.eos_id, tok.pad_id, max_new=max_new)
    rows = []
    for p, g in zip(probs, gens):
        n = len(g) - 1 if g and g[-1] == tok.eos_id else len(g)
        text = tok.decode(g[:n])
        pred = C.extract_answer(text)
        rows.append(dict(level=p["level"], len=n, ok=pred == p["answer"], refl=C.is_reflective(text),
                         first_ok=first_answer(text) == p["answer"], text=text, eos=n < len(g)))
    res = dict(n=len(rows), acc=sum(r["ok"] for r in rows) / len(rows), len=sum(r["len"] for r in rows) / len(rows),
               refl=sum(r["refl"] for r in rows) / len(rows), first_acc=sum(r["first_ok"] for r in rows) / len(rows),
               eos=sum(r["eos"] for r in rows) / len(rows))
    lv = sorted({r["level"] for r in rows})
    res["acc_by_level"] = {k: round(sum(r["ok"] for r in rows if r["level"] == k) / max(1, sum(1 for r in rows if r["level"] == k)), 3) for k in lv}
    res["len_by_level"] = {k: round(sum(r["len"] for r in rows if r["level"] == k) / max(1, sum(1 for r in rows if r["level"] == k)), 1) for k in lv}
    res["samples"] = [r["text"] for r in rows[::max(1, len(rows) // 6)]][:6]
    return res


def merge(kind, s1, s2, prm):
    out = {}
    for k in s1:
        d = s2[k] - s1[k]
        if kind == "TA":
            out[k] = s1[k] + prm["alpha"] * d
        elif kind == "TIES":
            n = d.numel()
            keep = max(1, int(round(n * prm["density"])))
            thr = d.abs().flatten().kthvalue(n - keep + 1).values if keep < n else torch.tensor(-1.0)
            dm = torch.where(d.abs() >= thr, d, torch.zeros_like(d))
            # one task vector: sign election and disjoint mean leave the trimmed delta unchanged
            out[k] = s1[k] + prm["lam"] * dm
        elif kind == "DARE-TA":
            g = torch.Generator().manual_seed(prm["seed"] + sum(map(ord, k)))
            keepm = (torch.rand(d.shape, generator=g) >= prm["p"]).float()
            out[k] = s1[k] + prm["alpha"] * d * keepm / (1 - prm["p"])
        else:
            raise ValueError(kind)
    return out


def merge_name(kind, prm):
    if kind == "TA":
        return f"TA α={prm['alpha']}"
    if kind == "TIES":
        return f"TIES keep {int(prm['density'] * 100)}% λ={prm['lam']}"
    return f"DARE-TA p={prm['p']} α={prm['alpha']}"


@torch.no_grad()
def line_losses(tok, s1, s2):
    """Loss of S1-style and S2-style data along θ = θ_S1 + α(θ_S2 − θ_S1)."""
    hk = {C.problem_key(p) for p in heldout_problems()}
    b1 = Sampler(tok, 999, hk).batch("s1", dict(SETTINGS["s1"], batch=16, p_chain=0.0))
    b2 = Sampler(tok, 998, hk).batch("s2", dict(SETTINGS["s2"], batch=16))
    out = []
    for a in [i / 10 for i in range(11)]:
        m = load_model(tok, merge("TA", s1, s2, {"alpha": a}))
        ls = []
        for inp, pos, mask, tgt in (b1, b2):
            lg, _ = m(inp, pos, mask)
            ls.append(F.cross_entropy(lg.view(-1, lg.shape[-1]), tgt.view(-1), ignore_index=-100).item())
        out.append((a, ls[0], ls[1]))
    return out


_EVAL = {}  # checkpoints and tokenizer for the evaluation workers (inherited by fork)


def eval_one(job):
    """Evaluates one model or merge on the held-out set (runs in a worker process)."""
    name, kind, prm = job
    sd, tok = _EVAL["sd"], _EVAL["tok"]
    t = time.time()
    state = sd[kind] if prm is None else merge(kind, sd["s1"], sd["s2"], prm)
    r = evaluate(load_model(tok, state), tok, heldout_problems())
    log(f"eval {name}: acc {r['acc']:.3f} len {r['len']:.1f} refl {r['refl']:.2f} first {r['first_acc']:.3f} "
        f"({time.time() - t:.0f}s)")
    return name, r


def run_eval(args, tok):
    _EVAL["sd"] = {k: C.load_safetensors(os.path.join(args.work, ck(k) + ".safetensors")) for k in ("base", "s1", "s2")}
    _EVAL["tok"] = tok
    jobs = [("base", "base", None), ("quick (S1)", "s1", None), ("slow (S2)", "s2", None)]
    jobs += [(merge_name(kind, prm), kind, prm) for kind, prm in SETTINGS["merges"]]
    # one single-threaded worker per core; each evaluation is independent, so the results are the
    # same bits as a sequential run
    with multiprocessing.get_context("fork").Pool(EVAL_WORKERS) as pool:
        results = dict(pool.map(eval_one, jobs, chunksize=1))
    ll = line_losses(tok, _EVAL["sd"]["s1"], _EVAL["sd"]["s2"])
    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump({"results": results, "line": ll}, f, indent=1)
    write_report(results, ll)


def write_report(results, line):
    s1, s2 = results["quick (S1)"], results["slow (S2)"]
    L = []
    L.append("# Merge Lab demo family: targets report\n")
    L.append("Generated by `bash tools/demo-models/build.sh` (tools/demo-models/demo_models.py). "
             f"Greedy decoding, {s2['n']} held-out problems (`public/data/arith-heldout.jsonl`, "
             f"{SETTINGS['heldout_per_level']} per level 1–6), at most {SETTINGS['eval']['max_new']} new tokens. "
             "Accuracy uses the LAST \"answer is N\" (fallback: last number). Length = generated tokens before "
             "`<|im_end|>`. Reflective = contains one of the paper's keywords (wait, re-examine, recap, "
             "double-check, let me check, let me just check, let me verify, let me just verify). "
             "\"first-answer acc\" scores the FIRST stated answer instead (diagnostic only).\n")
    L.append("## Targets\n")
    best = None
    for name, r in results.items():
        if name.startswith("TA") or name.startswith("TIES"):
            ok = r["acc"] >= s2["acc"] - 0.05 and r["len"] <= 0.7 * s2["len"]
            if ok and (best is None or r["len"] < results[best]["len"]):
                best = name
    gaps = [s2["acc_by_level"][k] - s1["acc_by_level"][k] for k in C.LEVELS]
    tg = [
        ("S2 acc ≥ S1 acc + 15 points", f"{s2['acc']:.3f} vs {s1['acc']:.3f} (+{100 * (s2['acc'] - s1['acc']):.1f})", s2["acc"] >= s1["acc"] + 0.15),
        ("gap grows with level", "gaps by level: " + ", ".join(f"{g:+.2f}" for g in gaps), gaps[-1] > gaps[0] and sum(gaps[3:]) > sum(gaps[:3])),
        ("S2 mean length ≥ 4× S1", f"{s2['len']:.1f} vs {s1['len']:.1f} ({s2['len'] / max(s1['len'], 1e-9):.1f}×)", s2["len"] >= 4 * s1["len"]),
        ("S2 reflective ≥ 80%", f"{100 * s2['refl']:.1f}%", s2["refl"] >= 0.8),
        ("S1 reflective ≤ 5%", f"{100 * s1['refl']:.1f}%", s1["refl"] <= 0.05),
        ("a TA/TIES merge: acc ≥ S2 − 5 points at length ≤ 70% of S2",
         (f"{best}: acc {results[best]['acc']:.3f}, length {results[best]['len']:.1f} = {100 * results[best]['len'] / s2['len']:.0f}% of S2" if best else "none"),
         best is not None),
    ]
    L.append("| target | measured | met |\n|---|---|---|")
    for a, b, c in tg:
        L.append(f"| {a} | {b} | {'yes' if c else 'NO'} |")
    L.append("")
    L.append("## Models and merges (merges: θ_S1 + …(θ_S2 − θ_S1), S1 is the base of the task vector)\n")
    L.append("| model | acc | first-answer acc | mean length | length vs S2 | reflective | ended with EOS | " +
             " | ".join(f"acc L{k}" for k in C.LEVELS) + " | " + " | ".join(f"len L{k}" for k in C.LEVELS) + " |")
    L.append("|" + "---|" * (7 + 2 * len(C.LEVELS)))
    for name, r in results.items():
        L.append(f"| {name} | {r['acc']:.3f} | {r['first_acc']:.3f} | {r['len']:.1f} | {100 * r['len'] / s2['len']:.0f}% | "
                 f"{100 * r['refl']:.0f}% | {100 * r['eos']:.0f}% | " +
                 " | ".join(f"{r['acc_by_level'][k]:.2f}" for k in C.LEVELS) + " | " +
                 " | ".join(f"{r['len_by_level'][k]:.0f}" for k in C.LEVELS) + " |")
    L.append("")
    L.append("## Loss along the line θ_S1 + α(θ_S2 − θ_S1)\n")
    L.append("Mean token loss of S1-format (direct answer) and S2-format (chain + reflections) responses on 16 "
             "packed rows of fresh training-distribution problems.\n")
    L.append("| α | S1-format loss | S2-format loss |\n|---|---|---|")
    for a, l1, l2 in line:
        L.append(f"| {a:.1f} | {l1:.3f} | {l2:.3f} |")
    L.append("")
    L.append("## Sample responses (held-out, greedy)\n")
    for name in ("quick (S1)", "slow (S2)") + ((best,) if best else ()):
        L.append(f"**{name}**\n")
        for t in results[name]["samples"][:3]:
            L.append("    " + t)
        L.append("")
    L.append("## Settings\n")
    L.append("```json\n" + json.dumps(SETTINGS, indent=1, ensure_ascii=False) + "\n```\n")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "report_notes.md")
    if os.path.exists(notes):
        L.append(open(notes).read())
    os.makedirs(os.path.join(ROOT, "public", "models"), exist_ok=True)
    with open(os.path.join(ROOT, "public", "models", "REPORT.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    log("wrote public/models/REPORT.md")


# --------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------
MODEL_DIRS = {"base": "demo-base", "s1": "demo-quick", "s2": "demo-slow"}


def ck(key):
    """Checkpoint name for a model: the exported base is the checkpoint System 1 starts from."""
    return SETTINGS["s1"]["init"] if key == "base" else key


def write_tokenizer_files(tok, d):
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok.tokenizer_json(), f, ensure_ascii=False, indent=1)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tok.tokenizer_config(), f, ensure_ascii=False, indent=1)


def export(args, tok):
    cfg = C.Cfg(len(tok), **SETTINGS["model"])
    for key, dname in MODEL_DIRS.items():
        d = os.path.join(ROOT, "public", "models", dname)
        os.makedirs(d, exist_ok=True)
        sd = C.load_safetensors(os.path.join(args.work, ck(key) + ".safetensors"))
        C.save_safetensors(os.path.join(d, "model.safetensors"), sd, metadata={"format": "pt"})
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg.hf_config(tok), f, indent=2)
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump({"bos_token_id": tok.bos_id, "do_sample": False, "eos_token_id": tok.eos_id,
                       "pad_token_id": tok.pad_id, "transformers_version": "4.44.2"}, f, indent=2)
        write_tokenizer_files(tok, d)
        log(f"exported {d} ({os.path.getsize(os.path.join(d, 'model.safetensors')) / 1e6:.1f} MB)")


def prepare(args, tok):
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(os.path.join(ROOT, "public", "data"), exist_ok=True)
    probs = heldout_problems()
    with open(os.path.join(ROOT, "public", "data", "arith-heldout.jsonl"), "w") as f:
        for p in probs:
            f.write(json.dumps({"question": C.question_text(p),
                                "answer": C.response_text(p, "chain") + f"\n#### {p['answer']}",
                                "level": p["level"]}) + "\n")
    # expectations for the JS tokenizer parity check (check_tokenizer.mjs)
    cases = []
    hk = {C.problem_key(p) for p in probs}
    for p in probs:
        q = C.question_text(p)
        cases.append(C.chat_prompt(q))
        cases.append(C.response_text(p, "slow", 2) + "<|im_end|>")
        cases.append(C.response_text(p, "direct") + "<|im_end|>")
    cases.append(C.fact_doc(random.Random(5), 20))
    extra = ["Hello, World! 123 4567 -8 +9 a_b  double  spaces\ttab\nnew line", "Überprüfung ünïcödé 日本語 🙂",
             "Wait... let me re-examine, recap; double-check: 100 99 0 00 07", ""]
    cases.extend(extra)
    exp = {"chat_template_cases": [C.question_text(p) for p in probs[:20]],
           "chat_template_expected": [C.chat_prompt(C.question_text(p)) for p in probs[:20]],
           "cases": [{"text": t, "ids": tok.encode(t)} for t in cases]}
    with open(os.path.join(args.work, "tok_expect.json"), "w") as f:
        json.dump(exp, f)
    d = os.path.join(args.work, "tokenizer")
    os.makedirs(d, exist_ok=True)
    write_tokenizer_files(tok, d)
    # sanity: decode round trip, prompt/response tokenized apart == together, sizes
    for t in cases[:-len(extra)]:
        assert tok.decode(tok.encode(t)) == t
    p = probs[-1]
    most = len(SETTINGS["s2"]["p_reflect"]) - 1  # the most reflections a training document has
    full = C.chat_prompt(C.question_text(p)) + C.response_text(p, "slow", most) + "<|im_end|>"
    assert tok.encode(full) == tok.encode(C.chat_prompt(C.question_text(p))) + tok.encode(C.response_text(p, "slow", most)) + [tok.eos_id]
    n_long = len(tok.encode(full))
    log(f"vocab {len(tok)}; held-out {len(probs)}; longest S2 doc {n_long} tokens; "
        f"S1 answer {len(tok.encode(C.response_text(p, 'direct')))} tokens")
    assert n_long <= SETTINGS["s2"]["seq"] + 1


# --------------------------------------------------------------------------------------
# golden files
# --------------------------------------------------------------------------------------
def golden(args, tok):
    probs = heldout_problems()
    per = SETTINGS["heldout_per_level"]
    pick = [probs[0], probs[2 * per + 1], probs[4 * per + 2]]  # levels 1, 3, 5
    gd = os.path.join(ROOT, "test", "golden")
    os.makedirs(gd, exist_ok=True)
    for key, dname in MODEL_DIRS.items():
        m = load_model(tok, os.path.join(ROOT, "public", "models", dname, "model.safetensors"))
        tensors = {}
        meta = {"model": f"public/models/{dname}", "dtype": "float32",
                "note": "logits[t] = next-token logits after reading sequence[0..t], sequence = prompt_ids + continuation_ids; "
                        "continuation = greedy (argmax) until and including <|im_end|> or max_new tokens",
                "eos_token_id": tok.eos_id, "prompts": []}
        for i, p in enumerate(pick):
            prompt_text = C.chat_prompt(C.question_text(p))
            pids = tok.encode(prompt_text)
            cont = C.greedy_single(m, pids, tok.eos_id, max_new=SETTINGS["eval"]["max_new"])
            lg = m.full_logits(pids + cont)
            am = lg[len(pids) - 1:].argmax(-1).tolist()
            assert am[:len(cont)] == cont, "cached greedy != full-forward argmax"
            tensors[f"prompt{i}.logits"] = lg.float().contiguous()
            tensors[f"prompt{i}.prompt_ids"] = torch.tensor(pids, dtype=torch.int32)
            tensors[f"prompt{i}.continuation_ids"] = torch.tensor(cont, dtype=torch.int32)
            meta["prompts"].append({
                "question": C.question_text(p), "level": p["level"], "expected_answer": p["answer"],
                "prompt_text": prompt_text, "prompt_ids": pids, "continuation_ids": cont,
                "continuation_text": tok.decode(cont), "continuation_text_no_special": tok.decode(cont, skip_special=True),
                "logits_tensor": f"prompt{i}.logits", "logits_shape": list(lg.shape),
                "prompt_ids_tensor": f"prompt{i}.prompt_ids", "continuation_ids_tensor": f"prompt{i}.continuation_ids"})
        C.save_safetensors(os.path.join(gd, f"{dname}.golden.safetensors"), tensors)
        with open(os.path.join(gd, f"{dname}.golden.json"), "w") as f:
            json.dump(meta, f, indent=1, ensure_ascii=False)
        log(f"golden {dname}: " + ", ".join(str(pp["logits_shape"]) for pp in meta["prompts"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.environ.get("DEMO_WORK", "/tmp/demo-models-work"))
    ap.add_argument("--quick-eval", type=int, default=0, help="evaluate a held-out subset every N steps (diagnostic)")
    ap.add_argument("--set", action="append", default=[], help="override a setting, e.g. base.steps=100 (diagnostics only)")
    ap.add_argument("stage", nargs="+")
    args = ap.parse_args()
    for s in args.set:
        k, v = s.split("=", 1)
        a, b = k.split(".")
        SETTINGS[a][b] = json.loads(v)
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    tok = C.Tokenizer()
    st = args.stage
    if st[0] == "prepare":
        prepare(args, tok)
    elif st[0] == "train":
        train(args, tok, st[1])
    elif st[0] == "eval":
        run_eval(args, tok)
    elif st[0] == "report":  # rewrite REPORT.md from $WORK/results.json (no evaluation)
        r = json.load(open(os.path.join(args.work, "results.json")))
        write_report({k: dict(v, acc_by_level={int(a): b for a, b in v["acc_by_level"].items()},
                              len_by_level={int(a): b for a, b in v["len_by_level"].items()})
                      for k, v in r["results"].items()}, r["line"])
    elif st[0] == "export":
        export(args, tok)
    elif st[0] == "golden":
        golden(args, tok)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
