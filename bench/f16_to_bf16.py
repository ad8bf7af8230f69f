#!/usr/bin/python3
"""Writes a bf16 copy of an f16 safetensors checkpoint (values rounded to nearest even), tensor by
tensor, for bench:merge's bf16 rows: keeps the fine-tunes' closeness to their base.

  f16_to_bf16.py SRC_DIR DST_DIR
"""
import json, os, shutil, struct, sys

import numpy as np


def main(src, dst):
    os.makedirs(dst, exist_ok=True)
    path = os.path.join(src, "model.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        head = json.loads(f.read(n))
        start = 8 + n
        for info in head.values():
            if isinstance(info, dict) and info.get("dtype") == "F16":
                info["dtype"] = "BF16"
        js = json.dumps(head).encode()
        js += b" " * ((8 - (8 + len(js)) % 8) % 8)
        tmp = os.path.join(dst, "model.safetensors.tmp")
        with open(tmp, "wb") as out:
            out.write(struct.pack("<Q", len(js)) + js)
            for name, info in head.items():
                if name == "__metadata__":
                    continue
                a, b = info["data_offsets"]
                f.seek(start + a)
                x = np.frombuffer(f.read(b - a), np.float16).astype(np.float32).view(np.uint32)
                out.write(((x + (0x7FFF + ((x >> 16) & 1))) >> 16).astype(np.uint16).tobytes())
        os.replace(tmp, os.path.join(dst, "model.safetensors"))
    config = json.load(open(os.path.join(src, "config.json")))
    config["torch_dtype"] = "bfloat16"
    json.dump(config, open(os.path.join(dst, "config.json"), "w"), indent=2)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
