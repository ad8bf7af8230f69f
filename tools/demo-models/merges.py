"""The merges the report evaluates, on two state dicts: θ_S1 + …(θ_S2 − θ_S1), S1 the task vector's base."""
import torch

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
