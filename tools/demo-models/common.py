"""Shared pieces of the Merge Lab demo-model tool.

- a byte-level BPE tokenizer (Python side; written out as a Hugging Face tokenizer.json)
- the arithmetic word-problem generator (levels 1-6) and the response formats
- a Qwen2ForCausalLM forward in plain PyTorch that matches Hugging Face's numerics
- hand-written safetensors read/write

Everything is deterministic given the seeds passed in.
"""
import json
import math
import random
import re
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------
_DT = {torch.float32: ("F32", np.float32), torch.int32: ("I32", np.int32), torch.int64: ("I64", np.int64)}
_DT_BACK = {"F32": np.float32, "I32": np.int32, "I64": np.int64}


def save_safetensors(path, tensors, metadata=None):
    header = {}
    blobs = []
    off = 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        code, npdt = _DT[t.dtype]
        b = t.numpy().astype(npdt, copy=False).astype(np.dtype(npdt).newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype=np.dtype(_DT_BACK[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(_DT_BACK[info["dtype"]]).reshape(info["shape"]).copy())
    return out


# --------------------------------------------------------------------------------------
# Tokenizer: GPT-2 style byte-level BPE, Qwen-style special tokens
# --------------------------------------------------------------------------------------
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The JS / HF pattern (ByteLevel pre-tokenizer, use_regex=true) is the GPT-2 regex:
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's re has no \p{..}; this is the same pattern for ASCII text (all our data is ASCII).
_PRETOK = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return bs, [chr(c) for c in cs]


# Words (as they appear after pre-tokenization) that become single tokens.  Fixed list, so
# the tokenizer does not depend on the data formats' details or on any random draw.
WORDS = [
    "user", "assistant", "\n",
    # question
    "Ann", "Mia", "Ben", "Tom", " has", " coins", " apples", " cards", " stamps", ".", " #", "#",
    " She", " He", " she", " he", " gets", " finds", " buys", " wins", " loses", " sells", " uses", " spends",
    " How", " many", " does", " have", " now", "?",
    # chains and answers
    " +", " -", " =", "The", " answer", " is", " So", " the", "Facts", ":",
    # reflections
    " Wait", ",", " let", " me", " double", "-", "check", " verify", " again", " Yes", " recap",
]


class Tokenizer:
    def __init__(self):
        bs, cs = bytes_to_unicode()
        self.byte_enc = {b: c for b, c in zip(bs, cs)}
        self.byte_dec = {c: b for b, c in zip(bs, cs)}
        vocab = {}
        for c in cs:
            vocab[c] = len(vocab)
        merges = []
        G = self.byte_enc[ord(" ")]
        # numbers 0-99 (with and without the leading space) are single tokens
        for n in range(10, 100):
            merges.append((str(n)[0], str(n)[1]))
        for d in range(10):
            merges.append((G, str(d)))
        for n in range(10, 100):
            merges.append((G, str(n)))
        # frequent words: BPE-train on the fixed word list until every word is one token
        words = [tuple(self.byte_enc[b] for b in w.encode("utf-8")) for w in WORDS]
        words = [w for w in words if len(w) > 1]
        while True:
            counts = {}
            for w in words:
                for p in zip(w[:-1], w[1:]):
                    counts[p] = counts.get(p, 0) + 1
            if not counts:
                break
            best = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            merges.append(best)
            new = []
            for w in words:
                out = []
                i = 0
                while i < len(w):
                    if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                        out.append(w[i] + w[i + 1])
                        i += 2
                    else:
                        out.append(w[i])
                        i += 1
                if len(out) > 1:
                    new.append(tuple(out))
            words = new
        for a, b in merges:
            if a + b not in vocab:
                vocab[a + b] = len(vocab)
        self.merges = merges
        self.ranks = {m: i for i, m in enumerate(merges)}
        for s in SPECIALS:
            vocab[s] = len(vocab)
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.special_ids = {s: vocab[s] for s in SPECIALS}
        self.eos_id = vocab["<|im_end|>"]
        self.pad_id = vocab["<|endoftext|>"]
        self.bos_id = vocab["<|endoftext|>"]
        self._split = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")
        self._cache = {}

    def __len__(self):
        return len(self.vocab)

    def _bpe(self, word):
        if word in self._cache:
            return self._cache[word]
        parts = list(word)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            a, b = parts[best[1]], parts[best[1] + 1]
            out = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        ids = [self.vocab[p] for p in parts]
        self._cache[word] = ids
        return ids

    def encode(self, text):
        ids = []
        for seg in self._split.split(text):
            if not seg:
                continue
            if seg in self.special_ids:
                ids.append(self.special_ids[seg])
                continue
            for piece in _PRETOK.findall(seg):
                ids.extend(self._bpe("".join(self.byte_enc[b] for b in piece.encode("utf-8"))))
        return ids

    def decode(self, ids, skip_special=False):
        out = []
        buf = []
        for i in ids:
            t = self.inv[int(i)]
            if t in self.special_ids:
                if buf:
                    out.append(bytes(buf).decode("utf-8", errors="replace"))
                    buf = []
                if not skip_special:
                    out.append(t)
            else:
                buf.extend(self.byte_dec[c] for c in t)
        if buf:
            out.append(bytes(buf).decode("utf-8", errors="replace"))
        return "".join(out)

    # ---- Hugging Face files -------------------------------------------------------------
    def tokenizer_json(self):
        added = [{"id": self.vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for s in SPECIALS]
        bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": dict(bl),
            "post_processor": dict(bl),
            "decoder": dict(bl),
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                "vocab": {t: i for t, i in self.vocab.items() if t not in self.special_ids},
                "merges": [[a, b] for a, b in self.merges],
            },
        }

    def tokenizer_config(self):
        return {
            "add_bos_token": False,
            "add_prefix_space": False,
            "added_tokens_decoder": {str(self.vocab[s]): {"content": s, "lstrip": False, "normalized": False,
                                                          "rstrip": False, "single_word": False, "special": True}
                                     for s in SPECIALS},
            "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
            "bos_token": None,
            "chat_template": CHAT_TEMPLATE,
            "clean_up_tokenization_spaces": False,
            "eos_token": "<|im_end|>",
            "errors": "replace",
            "model_max_length": 512,
            "pad_token": "<|endoftext|>",
            "split_special_tokens": False,
            "tokenizer_class": "Qwen2Tokenizer",
            "unk_token": None,
        }


CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def chat_prompt(question):
    """What CHAT_TEMPLATE renders for [{role: user, content: question}] with add_generation_prompt."""
    return "<|im_start|>user\n" + question + "<|im_end|>\n<|im_start|>assistant\n"


# --------------------------------------------------------------------------------------
# Problems and response formats
# --------------------------------------------------------------------------------------
NAMES = [("Ann", "She", "she"), ("Mia", "She", "she"), ("Ben", "He", "he"), ("Tom", "He", "he")]
ITEMS = ["coins", "apples", "cards", "stamps"]
PLUS = ["gets", "finds", "buys", "wins"]
MINUS = ["loses", "sells", "uses", "spends"]
LEVELS = (1, 2, 3, 4, 5, 6)
REFLECT_KEYWORDS = ["wait", "re-examine", "recap", "double-check", "let me check", "let me just check",
                    "let me verify", "let me just verify"]


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


# all valid single facts a (+|-) b = c with a, c in 0-99 and b in 10-99
ALL_FACTS = [(a, add, b) for a in range(100) for add in (True, False) for b in range(10, 100)
             if (a + b <= 99 if add else a - b >= 0)]


def fact_doc(rng, n):
    fs = [ALL_FACTS[rng.randrange(len(ALL_FACTS))] for _ in range(n)]
    return "Facts: " + " ".join(f"{a} {'+' if add else '-'} {b} = {a + b if add else a - b}." for a, add, b in fs)


# --------------------------------------------------------------------------------------
# Qwen2ForCausalLM (HF numerics)
# --------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------
# Greedy generation (batched, left-padded, KV cache)
# --------------------------------------------------------------------------------------
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
