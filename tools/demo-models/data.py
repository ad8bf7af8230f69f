"""The task and its data: arithmetic word problems (levels 1-6), their texts and response formats,
fact lists, the held-out set, and the training-document sampler.

Everything is deterministic given the seeds passed in; training never sees a held-out problem
(problems are compared by start value and operations).
"""
import random

import torch

from settings import SEED, SETTINGS
from tokenizer import chat_prompt

NAMES = [("Ann", "She", "she"), ("Mia", "She", "she"), ("Ben", "He", "he"), ("Tom", "He", "he")]
ITEMS = ["coins", "apples", "cards", "stamps"]
PLUS = ["gets", "finds", "buys", "wins"]
MINUS = ["loses", "sells", "uses", "spends"]
LEVELS = (1, 2, 3, 4, 5, 6)


def make_problem(rng, k):
    """Start 10-99, then k additions/subtractions of 10-99; the running value stays in 0-99."""
    start = rng.randint(10, 99)
    v = start
    ops = []
    for _ in range(k):
        can_add, can_sub = v + 10 <= 99, v - 10 >= 0
        add = (rng.random() < 0.5) if (can_add and can_sub) else can_add
        b = rng.randint(10, 99 - v) if add else rng.randint(10, v)
        v = v + b if add else v - b
        ops.append((add, b))
    who = rng.randrange(len(NAMES))
    item = rng.randrange(len(ITEMS))
    verbs = [rng.randrange(4) for _ in ops]
    return {"start": start, "ops": ops, "answer": v, "level": k, "who": who, "item": item, "verbs": verbs}


def problem_key(p):
    return (p["start"], tuple(p["ops"]))


def question_text(p):
    name, Pron, pron = NAMES[p["who"]]
    item = ITEMS[p["item"]]
    parts = [f"{name} has {p['start']} {item}."]
    for i, ((add, b), vb) in enumerate(zip(p["ops"], p["verbs"])):
        parts.append(f"#{i + 1} {Pron} {(PLUS if add else MINUS)[vb]} {b}.")
    parts.append(f"How many {item} does {pron} have now?")
    return " ".join(parts)


def chain_steps(p):
    """Each labelled step as (label, value before, add, operand, value after)."""
    v = p["start"]
    for i, (add, b) in enumerate(p["ops"]):
        nv = v + b if add else v - b
        yield i + 1, v, add, b, nv
        v = nv


def step_text(step):
    i, v, add, b, nv = step
    return f"#{i} {v} {'+' if add else '-'} {b} = {nv}."


def chain_text(p):
    return " ".join(step_text(s) for s in chain_steps(p))


def terse_text(p):
    """System 1's terse chain: only the running value after each labelled step."""
    return " ".join(f"#{i} = {nv}." for i, _, _, _, nv in chain_steps(p))


REFLECTIONS = ["Wait, let me double-check:", "Wait, let me verify again:", "Wait, let me recap:"]


def response_text(p, kind, n_reflect=0):
    a = p["answer"]
    if kind == "direct":
        return f"The answer is {a}."
    if kind == "glance":  # first step written out, then the answer at a glance
        return f"{step_text(next(chain_steps(p)))} The answer is {a}."
    if kind == "terse":
        return f"{terse_text(p)} The answer is {a}."
    if kind == "chain":
        return f"{chain_text(p)} So the answer is {a}."
    if kind == "slow":
        s = f"{chain_text(p)} So the answer is {a}."
        for r in range(n_reflect):
            s += f" {REFLECTIONS[r % len(REFLECTIONS)]} {chain_text(p)} Yes, the answer is {a}."
        return s
    raise ValueError(kind)


# all valid single facts a (+|-) b = c with a, c in 0-99 and b in 10-99
ALL_FACTS = [(a, add, b) for a in range(100) for add in (True, False) for b in range(10, 100)
             if (a + b <= 99 if add else a - b >= 0)]


def fact_doc(rng, n):
    fs = [ALL_FACTS[rng.randrange(len(ALL_FACTS))] for _ in range(n)]
    return "Facts: " + " ".join(f"{a} {'+' if add else '-'} {b} = {a + b if add else a - b}." for a, add, b in fs)


def heldout_problems():
    rng = random.Random(SEED * 7 + 1)
    seen = set()
    out = []
    for k in LEVELS:
        n = 0
        while n < SETTINGS["heldout_per_level"]:
            p = make_problem(rng, k)
            key = problem_key(p)
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
            p = make_problem(self.rng, self.rng.choice(LEVELS))
            if problem_key(p) not in self.block:
                return p

    def chat(self, p, resp):
        tok = self.tok
        pr = tok.encode(chat_prompt(question_text(p)))
        rs = tok.encode(resp) + [tok.eos_id]
        return pr + rs, [False] * len(pr) + [True] * len(rs)

    def base_doc(self, cfg):
        r = self.rng.random()
        if r < cfg["p_chain"]:
            p = self.problem()
            return self.chat(p, response_text(p, "chain"))
        if r < cfg["p_chain"] + cfg["p_facts"]:
            return self.fact_doc(cfg)
        p = self.problem()
        r -= cfg["p_chain"] + cfg["p_facts"]
        if r < cfg.get("p_slow", 0):
            return self.slow_doc(p, cfg["p_reflect"])
        if r < cfg.get("p_slow", 0) + cfg.get("p_terse", 0):
            return self.chat(p, response_text(p, "terse"))
        return self.chat(p, response_text(p, "direct"))

    def fact_doc(self, cfg):
        ids = self.tok.encode(fact_doc(self.rng, cfg.get("facts_per_doc", 16))) + [self.tok.pad_id]
        return ids, [False] + [True] * (len(ids) - 1)

    def s1_doc(self, cfg):
        p = self.problem()
        r = self.rng.random()
        kind = "chain" if r < cfg["p_chain"] else "terse" if r < cfg["p_chain"] + cfg.get("p_terse", 0) else "direct"
        if kind == "chain" and p["level"] > cfg.get("chain_max_level", 99):
            kind = cfg.get("beyond", "direct")  # a lazy System 1: writes out only short problems
        return self.chat(p, response_text(p, kind))

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
        return self.chat(p, response_text(p, "slow", n))

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

