#!/usr/bin/python3
"""Writes a random-weight f32 checkpoint shaped like Qwen2.5-0.5B (config.json + model.safetensors)
for the inference benchmark. Offline, seeded; numpy only. Usage: make_random_qwen.py OUT_DIR"""
import json, os, struct, sys
import numpy as np

CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_act": "silu",
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
    "rope_scaling": None, "sliding_window": 32768, "use_sliding_window": False, "max_window_layers": 21,
    "tie_word_embeddings": True, "torch_dtype": "float32", "bos_token_id": 151643, "eos_token_id": 151645,
}

def shapes(c):
    h, i, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    d = h // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * d
    out = [("model.embed_tokens.weight", [v, h])]
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}"
        out += [(f"{p}.input_layernorm.weight", [h]),
                (f"{p}.self_attn.q_proj.weight", [h, h]), (f"{p}.self_attn.q_proj.bias", [h]),
                (f"{p}.self_attn.k_proj.weight", [kv, h]), (f"{p}.self_attn.k_proj.bias", [kv]),
                (f"{p}.self_attn.v_proj.weight", [kv, h]), (f"{p}.self_attn.v_proj.bias", [kv]),
                (f"{p}.self_attn.o_proj.weight", [h, h]),
                (f"{p}.post_attention_layernorm.weight", [h]),
                (f"{p}.mlp.gate_proj.weight", [i, h]), (f"{p}.mlp.up_proj.weight", [i, h]),
                (f"{p}.mlp.down_proj.weight", [h, i])]
    out.append(("model.norm.weight", [h]))
    return out

def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(2025)
    entries, header, off = shapes(CONFIG), {"__metadata__": {"format": "pt"}}, 0
    for name, shape in entries:
        n = int(np.prod(shape)) * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + n]}
        off += n
    hj = json.dumps(header).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = os.path.join(out_dir, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for name, shape in entries:
            if name.endswith("norm.weight"):
                a = np.ones(shape, dtype=np.float32)
            else:
                a = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(np.float32)
            f.write(a.tobytes())
    os.replace(tmp, os.path.join(out_dir, "model.safetensors"))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    print(f"wrote {out_dir}: {off / 1e9:.2f} GB of f32 weights")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".data", "qwen2.5-0.5b-random"))
