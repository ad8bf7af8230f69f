"""Training: one stage (base, base2, s1, s2) as TRAIN_WORKERS data-parallel processes, one per core.

Every process draws the same full batch from the seeded Sampler and trains on its share of the
rows; the gradients are summed with gloo, so every run takes the same steps to the same bits.
"""
import math
import os
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from data import Sampler, heldout_problems, problem_key
from evaluation import evaluate
from model import hf_state, new_model
from safetensors_io import load_safetensors, save_safetensors
from settings import SEED, SETTINGS, TRAIN_WORKERS, log

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
    hk = {problem_key(p) for p in heldout_problems()}
    smp = Sampler(tok, SEED * 100 + stage_seed, hk)
    model = new_model(tok)
    if cfg.get("init"):
        model.load_state_dict(load_safetensors(os.path.join(args.work, cfg["init"] + ".safetensors")))
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
        save_safetensors(os.path.join(args.work, kind + ".safetensors"), hf_state(model))
        log(f"saved {kind} in {(time.time() - t0) / 60:.1f} min")
    dist.barrier()
    dist.destroy_process_group()
