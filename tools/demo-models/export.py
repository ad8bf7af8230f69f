"""What the tool writes for the lab: the held-out set and tokenizer files (prepare), the Hugging Face
model folders public/models/demo-*/ (export), and the golden logits test/golden/* (golden).
"""
import json
import os
import random

import torch

from data import fact_doc, heldout_problems, question_text, response_text
from generation import greedy_single
from model import Cfg, load_model
from safetensors_io import load_safetensors, save_safetensors
from settings import MODEL_DIRS, ROOT, SETTINGS, checkpoint_name, log
from tokenizer import chat_prompt

def write_tokenizer_files(tok, d):
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok.tokenizer_json(), f, ensure_ascii=False, indent=1)
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(tok.tokenizer_config(), f, ensure_ascii=False, indent=1)


def export(args, tok):
    cfg = Cfg(len(tok), **SETTINGS["model"])
    for key, dname in MODEL_DIRS.items():
        d = os.path.join(ROOT, "public", "models", dname)
        os.makedirs(d, exist_ok=True)
        sd = load_safetensors(os.path.join(args.work, checkpoint_name(key) + ".safetensors"))
        save_safetensors(os.path.join(d, "model.safetensors"), sd, metadata={"format": "pt"})
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
            f.write(json.dumps({"question": question_text(p),
                                "answer": response_text(p, "chain") + f"\n#### {p['answer']}",
                                "level": p["level"]}) + "\n")
    # expectations for the JS tokenizer parity check (check_tokenizer.mjs)
    cases = []
    for p in probs:
        q = question_text(p)
        cases.append(chat_prompt(q))
        cases.append(response_text(p, "slow", 2) + "<|im_end|>")
        cases.append(response_text(p, "direct") + "<|im_end|>")
    cases.append(fact_doc(random.Random(5), 20))
    extra = ["Hello, World! 123 4567 -8 +9 a_b  double  spaces\ttab\nnew line",
             "Überprüfung ünïcödé 日本語 🙂",
             "Wait... let me re-examine, recap; double-check: 100 99 0 00 07", ""]
    cases.extend(extra)
    exp = {"chat_template_cases": [question_text(p) for p in probs[:20]],
           "chat_template_expected": [chat_prompt(question_text(p)) for p in probs[:20]],
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
    full = chat_prompt(question_text(p)) + response_text(p, "slow", most) + "<|im_end|>"
    assert tok.encode(full) == (tok.encode(chat_prompt(question_text(p))) + tok.encode(response_text(p, "slow", most))
                                + [tok.eos_id])
    n_long = len(tok.encode(full))
    log(f"vocab {len(tok)}; held-out {len(probs)}; longest S2 doc {n_long} tokens; "
        f"S1 answer {len(tok.encode(response_text(p, 'direct')))} tokens")
    assert n_long <= SETTINGS["s2"]["seq"] + 1


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
                "note": "logits[t] = next-token logits after reading sequence[0..t], "
                        "sequence = prompt_ids + continuation_ids; "
                        "continuation = greedy (argmax) until and including <|im_end|> or max_new tokens",
                "eos_token_id": tok.eos_id, "prompts": []}
        for i, p in enumerate(pick):
            prompt_text = chat_prompt(question_text(p))
            pids = tok.encode(prompt_text)
            cont = greedy_single(m, pids, tok.eos_id, max_new=SETTINGS["eval"]["max_new"])
            lg = m.full_logits(pids + cont)
            am = lg[len(pids) - 1:].argmax(-1).tolist()
            assert am[:len(cont)] == cont, "cached greedy != full-forward argmax"
            tensors[f"prompt{i}.logits"] = lg.float().contiguous()
            tensors[f"prompt{i}.prompt_ids"] = torch.tensor(pids, dtype=torch.int32)
            tensors[f"prompt{i}.continuation_ids"] = torch.tensor(cont, dtype=torch.int32)
            meta["prompts"].append({
                "question": question_text(p), "level": p["level"], "expected_answer": p["answer"],
                "prompt_text": prompt_text, "prompt_ids": pids, "continuation_ids": cont,
                "continuation_text": tok.decode(cont),
                "continuation_text_no_special": tok.decode(cont, skip_special=True),
                "logits_tensor": f"prompt{i}.logits", "logits_shape": list(lg.shape),
                "prompt_ids_tensor": f"prompt{i}.prompt_ids", "continuation_ids_tensor": f"prompt{i}.continuation_ids"})
        save_safetensors(os.path.join(gd, f"{dname}.golden.safetensors"), tensors)
        with open(os.path.join(gd, f"{dname}.golden.json"), "w") as f:
            json.dump(meta, f, indent=1, ensure_ascii=False)
        log(f"golden {dname}: " + ", ".join(str(pp["logits_shape"]) for pp in meta["prompts"]))
