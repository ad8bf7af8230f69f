"""Evaluation: greedy answers on the held-out set scored for accuracy, length and reflection, for
every model and merge (one single-threaded process per core), and the loss along θ_S1 → θ_S2.
"""
import json
import multiprocessing
import os
import re
import time

import torch
import torch.nn.functional as F

from data import Sampler, heldout_problems, problem_key, question_text
from generation import generate
from merges import merge, merge_name
from model import load_model
from report import write_report
from safetensors_io import load_safetensors
from settings import EVAL_WORKERS, SETTINGS, checkpoint_name, log
from tokenizer import chat_prompt

REFLECT_KEYWORDS = ["wait", "re-examine", "recap", "double-check", "let me check", "let me just check",
                    "let me verify", "let me just verify"]

_ANS = re.compile(r"answer is\s*(-?\d+)", re.I)
_NUM = re.compile(r"-?\d+")


def extract_answer(text):
    m = _ANS.findall(text)
    if m:
        return int(m[-1])
    m = _NUM.findall(text)
    return int(m[-1]) if m else None


def is_reflective(text):
    t = text.lower()
    return any(k in t for k in REFLECT_KEYWORDS)


def first_answer(text):
    m = re.search(r"answer is\s*(-?\d+)", text, re.I)
    return int(m.group(1)) if m else None


def evaluate(model, tok, probs, max_new=None):
    max_new = max_new or SETTINGS["eval"]["max_new"]
    prompts = [tok.encode(chat_prompt(question_text(p))) for p in probs]
    gens = generate(model, prompts, tok.eos_id, tok.pad_id, max_new=max_new)
    rows = []
    for p, g in zip(probs, gens):
        n = len(g) - 1 if g and g[-1] == tok.eos_id else len(g)
        text = tok.decode(g[:n])
        pred = extract_answer(text)
        rows.append(dict(level=p["level"], len=n, ok=pred == p["answer"], refl=is_reflective(text),
                         first_ok=first_answer(text) == p["answer"], text=text, eos=n < len(g)))
    res = dict(n=len(rows), acc=sum(r["ok"] for r in rows) / len(rows), len=sum(r["len"] for r in rows) / len(rows),
               refl=sum(r["refl"] for r in rows) / len(rows), first_acc=sum(r["first_ok"] for r in rows) / len(rows),
               eos=sum(r["eos"] for r in rows) / len(rows))
    lv = sorted({r["level"] for r in rows})
    res["acc_by_level"] = {k: round(sum(r["ok"] for r in rows if r["level"] == k)
                                    / max(1, sum(1 for r in rows if r["level"] == k)), 3) for k in lv}
    res["len_by_level"] = {k: round(sum(r["len"] for r in rows if r["level"] == k)
                                    / max(1, sum(1 for r in rows if r["level"] == k)), 1) for k in lv}
    res["samples"] = [r["text"] for r in rows[::max(1, len(rows) // 6)]][:6]
    return res


@torch.no_grad()
def line_losses(tok, s1, s2):
    """Loss of S1-style and S2-style data along θ = θ_S1 + α(θ_S2 − θ_S1)."""
    hk = {problem_key(p) for p in heldout_problems()}
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
    _EVAL["sd"] = {k: load_safetensors(os.path.join(args.work, checkpoint_name(k) + ".safetensors"))
                   for k in ("base", "s1", "s2")}
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
