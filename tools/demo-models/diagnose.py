#!/usr/bin/python3
"""Teacher-forced diagnostics of a checkpoint: accuracy of the result token of each chain step
(arithmetic), of the operand tokens (lookup/copy), of fact-list results, and of each running value
in System 1's terse chain (`#2 = 79.`: lookup and arithmetic in one position).
  /usr/bin/python3 tools/demo-models/diagnose.py CHECKPOINT.safetensors
"""
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import LEVELS, fact_doc, make_problem, question_text, response_text  # noqa: E402
from model import load_model  # noqa: E402
from tokenizer import Tokenizer, chat_prompt  # noqa: E402

torch.set_num_threads(1)
tok = Tokenizer()
m = load_model(tok, sys.argv[1])
rng = random.Random(4242)
eq = tok.vocab["Ġ="]
stats = {"result": [0, 0], "operand": [0, 0], "fact": [0, 0], "terse": [0, 0]}
with torch.no_grad():
    for _ in range(120):
        p = make_problem(rng, rng.choice(LEVELS))
        pr = tok.encode(chat_prompt(question_text(p)))
        rs = tok.encode(response_text(p, "chain"))
        ids = pr + rs
        pred = m.full_logits(ids).argmax(-1).tolist()
        for j in range(len(pr), len(ids)):
            t = ids[j]
            g = pred[j - 1] == t
            if ids[j - 1] == eq:
                k = "result"
            elif tok.inv[t].startswith("Ġ") and tok.inv[t][1:].isdigit() and tok.inv[ids[j - 1]] in ("Ġ+", "Ġ-"):
                k = "operand"
            else:
                continue
            stats[k][0] += g
            stats[k][1] += 1
        ts = tok.encode(response_text(p, "terse"))
        ids = pr + ts
        pred = m.full_logits(ids).argmax(-1).tolist()
        for j in range(len(pr), len(ids)):
            if ids[j - 1] == eq:
                stats["terse"][0] += pred[j - 1] == ids[j]
                stats["terse"][1] += 1
        f = tok.encode(fact_doc(rng, 16))
        pf = m.full_logits(f).argmax(-1).tolist()
        for j in range(1, len(f)):
            if f[j - 1] == eq:
                stats["fact"][0] += pf[j - 1] == f[j]
                stats["fact"][1] += 1
print(" ".join(f"{k} {a / max(b, 1):.3f} (n={b})" for k, (a, b) in stats.items()))
