"""The tiny Qwen2ForCausalLM in plain PyTorch, with Hugging Face's numerics and parameter names.

RMSNorm `w * x * rsqrt(mean(x²)+eps)`, rotate_half rotary with `rope_theta`, q/k/v biases and no
o_proj bias, GQA by repeating each KV head for consecutive query heads, SwiGLU
`down(silu(gate(x)) * up(x))`, final norm, untied `lm_head`. The family's shape is SETTINGS["model"].
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from safetensors_io import load_safetensors
from settings import SETTINGS

class Cfg:
    def __init__(self, vocab_size, hidden_size=192, intermediate_size=512, num_hidden_layers=4,
                 num_attention_heads=6, num_key_value_heads=2, rms_norm_eps=1e-6, rope_theta=10000.0,
                 max_position_embeddings=512):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta
        self.max_position_embeddings = max_position_embeddings
        self.head_dim = hidden_size // num_attention_heads

    def hf_config(self, tok):
        # keys sorted, as PretrainedConfig.to_json_string writes them
        c = {
            "architectures": ["Qwen2ForCausalLM"],
            "attention_dropout": 0.0,
            "bos_token_id": tok.bos_id,
            "eos_token_id": tok.eos_id,
            "hidden_act": "silu",
            "hidden_size": self.hidden_size,
            "initializer_range": 0.02,
            "intermediate_size": self.intermediate_size,
            "max_position_embeddings": self.max_position_embeddings,
            "max_window_layers": self.num_hidden_layers,
            "model_type": "qwen2",
            "num_attention_heads": self.num_attention_heads,
            "num_hidden_layers": self.num_hidden_layers,
            "num_key_value_heads": self.num_key_value_heads,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_scaling": None,
            "rope_theta": self.rope_theta,
            "sliding_window": self.max_position_embeddings,
            "tie_word_embeddings": False,
            "torch_dtype": "float32",
            "transformers_version": "4.44.2",
            "use_cache": True,
            "use_sliding_window": False,
            "vocab_size": self.vocab_size,
        }
        return dict(sorted(c.items()))


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        H, KV, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, H * D, bias=True)
        self.k_proj = nn.Linear(c.hidden_size, KV * D, bias=True)
        self.v_proj = nn.Linear(c.hidden_size, KV * D, bias=True)
        self.o_proj = nn.Linear(H * D, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask, past=None):
        B, T, _ = x.shape
        c = self.c
        H, KV, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        q = self.q_proj(x).view(B, T, H, D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, KV, D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, KV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        present = (k, v)
        rep = H // KV
        k2 = k.repeat_interleave(rep, dim=1)
        v2 = v.repeat_interleave(rep, dim=1)
        s = torch.matmul(q * (1.0 / math.sqrt(D)), k2.transpose(2, 3))
        s = s.add_(mask)  # additive mask: 0 where allowed, -inf elsewhere (see Qwen2.forward)
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v2).transpose(1, 2).reshape(B, T, H * D)
        return self.o_proj(o), present


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=False)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = MLP(c)
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)

    def forward(self, x, cos, sin, mask, past=None):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        x = x + self.mlp(self.post_attention_layernorm(x))
        return x, present


class Inner(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Layer(c) for _ in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class Qwen2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Inner(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        D = c.head_dim
        inv = 1.0 / (c.rope_theta ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
        self.register_buffer("inv_freq", inv, persistent=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def forward(self, ids, pos, mask, past=None):
        """ids, pos: [B,T] long; mask: [B,1,T,Tk] bool (True = may attend); past: list of (k,v)."""
        freqs = pos[..., None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos()[:, None]
        sin = emb.sin()[:, None]
        if mask.dtype == torch.bool:  # additive form, built once for all layers
            mask = torch.zeros(mask.shape).masked_fill_(~mask, float("-inf"))
        x = self.model.embed_tokens(ids)
        presents = []
        for i, layer in enumerate(self.model.layers):
            x, pr = layer(x, cos, sin, mask, None if past is None else past[i])
            presents.append(pr)
        x = self.model.norm(x)
        return self.lm_head(x), presents

    def full_logits(self, ids):
        """Plain causal forward of one sequence (list of ids) -> [T, V]."""
        t = torch.tensor([ids], dtype=torch.long)
        T = t.shape[1]
        pos = torch.arange(T)[None]
        mask = torch.ones(T, T, dtype=torch.bool).tril()[None, None]
        with torch.no_grad():
            return self.forward(t, pos, mask)[0][0]


def hf_state(model):
    return {k: v.detach().clone().float() for k, v in model.state_dict().items()}


def new_model(tok):
    return Qwen2(Cfg(len(tok), **SETTINGS["model"]))


def load_model(tok, path_or_state):
    m = new_model(tok)
    sd = load_safetensors(path_or_state) if isinstance(path_or_state, str) else path_or_state
    m.load_state_dict(sd)
    m.eval()
    return m
