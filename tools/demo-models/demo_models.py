#!/usr/bin/python3
"""Merge Lab demo-model tool: trains base / quick (System 1) / slow (System 2), evaluates them and
their merges, and writes public/models/*, public/data/arith-heldout.jsonl and test/golden/*.

Usage (see README.md; build.sh runs all stages in order):
  /usr/bin/python3 tools/demo-models/demo_models.py [--work DIR] STAGE
  STAGE: prepare | train base | train s1 | train s2 | eval | export | golden | all

The stages live in modules by concern: settings, tokenizer, data, model, generation, training,
merges, evaluation, report, export, safetensors_io.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluation import run_eval  # noqa: E402
from export import export, golden, prepare  # noqa: E402
from report import write_report  # noqa: E402
from settings import SETTINGS  # noqa: E402
from tokenizer import Tokenizer  # noqa: E402
from training import train  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.environ.get("DEMO_WORK", "/tmp/demo-models-work"))
    ap.add_argument("--quick-eval", type=int, default=0, help="evaluate a held-out subset every N steps (diagnostic)")
    ap.add_argument("--set", action="append", default=[],
                    help="override a setting, e.g. base.steps=100 (diagnostics only)")
    ap.add_argument("stage", nargs="+")
    args = ap.parse_args()
    for s in args.set:
        k, v = s.split("=", 1)
        a, b = k.split(".")
        SETTINGS[a][b] = json.loads(v)
    torch.set_num_threads(1)
    os.makedirs(args.work, exist_ok=True)
    tok = Tokenizer()
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
