"""Greedy decoding with a KV cache: batched and left-padded for evaluation, unbatched for goldens."""
import torch

@torch.no_grad()
def generate(model, prompts, eos_id, pad_id, max_new=300, batch=64):
    outs = []
    for s in range(0, len(prompts), batch):
        chunk = prompts[s:s + batch]
        B = len(chunk)
        P = max(len(p) for p in chunk)
        ids = torch.full((B, P), pad_id, dtype=torch.long)
        valid = torch.zeros(B, P, dtype=torch.bool)
        for i, p in enumerate(chunk):
            ids[i, P - len(p):] = torch.tensor(p)
            valid[i, P - len(p):] = True
        pos = (valid.long().cumsum(1) - 1).clamp(min=0)
        mask = torch.ones(P, P, dtype=torch.bool).tril()[None, None] & valid[:, None, None, :]
        mask = mask | torch.eye(P, dtype=torch.bool)[None, None]
        logits, past = model(ids, pos, mask)
        nxt = logits[:, -1].argmax(-1)
        gen = [[] for _ in range(B)]
        done = torch.zeros(B, dtype=torch.bool)
        cur_pos = pos[:, -1]
        keyvalid = valid
        for step in range(max_new):
            for i in range(B):
                if not done[i]:
                    gen[i].append(int(nxt[i]))
            done = done | (nxt == eos_id)
            if bool(done.all()) or step == max_new - 1:
                break
            cur_pos = cur_pos + 1
            keyvalid = torch.cat([keyvalid, torch.ones(B, 1, dtype=torch.bool)], dim=1)
            logits, past = model(nxt[:, None], cur_pos[:, None], keyvalid[:, None, None, :], past)
            nxt = logits[:, -1].argmax(-1)
        outs.extend(gen)
    return outs


def greedy_single(model, prompt, eos_id, max_new=300):
    """Unbatched greedy with KV cache (used for golden files)."""
    with torch.no_grad():
        T = len(prompt)
        ids = torch.tensor([prompt])
        mask = torch.ones(T, T, dtype=torch.bool).tril()[None, None]
        logits, past = model(ids, torch.arange(T)[None], mask)
        out = []
        nxt = int(logits[0, -1].argmax())
        for _ in range(max_new):
            out.append(nxt)
            if nxt == eos_id:
                break
            p = T + len(out) - 1
            logits, past = model(torch.tensor([[nxt]]), torch.tensor([[p]]),
                                 torch.ones(1, 1, 1, p + 1, dtype=torch.bool), past)
            nxt = int(logits[0, -1].argmax())
        return out
