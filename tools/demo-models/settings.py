"""Every setting that shapes the demo family, and the paths and log line the stages share.

REPORT.md prints SETTINGS; `demo_models.py --set stage.key=json` overrides an entry in place
(diagnostics only), and the training and evaluation workers inherit it by fork.
"""
import os
import time

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

# the exported model directories under public/models/, by checkpoint key
MODEL_DIRS = {"base": "demo-base", "s1": "demo-quick", "s2": "demo-slow"}


def checkpoint_name(key):
    """Checkpoint name for a model: the exported base is the checkpoint System 1 starts from."""
    return SETTINGS["s1"]["init"] if key == "base" else key


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)
