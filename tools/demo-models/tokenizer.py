"""The demo family's tokenizer: GPT-2-style byte-level BPE with Qwen-style special tokens.

Python side of the tokenizer the lab runs in JS; it writes itself out as Hugging Face's
tokenizer.json / tokenizer_config.json (check_tokenizer.mjs checks the two agree). Fixed merges
(numbers 0-99 and the word list WORDS), so it depends on no random draw.
"""
import re

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# The JS / HF pattern (ByteLevel pre-tokenizer, use_regex=true) is the GPT-2 regex:
#   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's re has no \p{..}; this is the same pattern for ASCII text (all our data is ASCII).
_PRETOK = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1))
          + list(range(ord("\xae"), ord("\xff") + 1)))
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

