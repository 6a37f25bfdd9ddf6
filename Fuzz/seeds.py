#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target (docs/fuzzing.md) under OUT/<target>/: small valid inputs in the
layout Sources/MantaFuzz reads, plus near-misses at the numeric edges, so libFuzzer starts from the real shapes.

Usage: seeds.py OUT
"""
import hashlib
import json
import os
import struct
import sys


def u64(n):
    return struct.pack("<Q", n)


def digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def safetensors_file(tensors, metadata=True):
    """The header bytes and the size of the whole file: the data region is only its size to the planner."""
    header, offset = {}, 0
    for name, size in tensors:
        header[name] = {"dtype": "F32", "shape": [size // 4], "data_offsets": [offset, offset + size]}
        offset += size
    if metadata:
        header["__metadata__"] = {"format": "pt"}
    body = json.dumps(header, separators=(",", ":")).encode()
    return u64(len(body)) + body, 8 + len(body) + offset


def gguf_string(text):
    data = text.encode()
    return u64(len(data)) + data


def gguf_file(tensors, alignment=32):
    """The header bytes (padded to the data start) and the size of the whole file."""
    kv = gguf_string("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", alignment)
    kv += gguf_string("general.name") + struct.pack("<I", 8) + gguf_string("seed")
    kv += gguf_string("tokenizer.ggml.scores") + struct.pack("<I", 9) + struct.pack("<I", 6) + u64(2) + bytes(8)
    kv += gguf_string("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<I", 8) + u64(2)
    kv += gguf_string("a") + gguf_string("b")
    infos, offset = b"", 0
    for name, size in tensors:
        infos += gguf_string(name) + struct.pack("<I", 1) + u64(size // 4) + struct.pack("<I", 0) + u64(offset)
        offset += (size + alignment - 1) // alignment * alignment
    head = b"GGUF" + struct.pack("<I", 3) + u64(len(tensors)) + u64(4) + kv + infos
    padded = (len(head) + alignment - 1) // alignment * alignment
    return head + bytes(padded - len(head)), padded + offset


def manifest(files):
    entries = []
    for path, sizes in files:
        chunks, offset = [], 0
        for size in sizes:
            chunks.append({"id": digest(f"{path}{offset}"), "length": size, "offset": offset})
            offset += size
        entries.append({"chunks": chunks, "path": path, "scheme": "fixed", "sha256": digest(path), "size": offset})
    return {
        "chunkSize": 4194304, "files": entries, "version": 1,
        "source": {"commit": "0" * 40, "kind": "huggingface", "repo": "org/model", "revision": "main"},
    }


def to_json(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def seeds():
    big = 2**64 - 1
    yield "range", {
        "closed": u64(1000) + b"bytes=0-99",
        "open": u64(1000) + b"bytes=900-",
        "suffix": u64(1000) + b"bytes=-100",
        "max-start": u64(big) + b"bytes=18446744073709551614-18446744073709551615",
        "overflow": u64(10) + b"bytes=-18446744073709551616",
        "empty-body": u64(0) + b"bytes=-1",
        "two": u64(50) + b"bytes=0-1,5-9",
    }
    one = manifest([("config.json", [120]), ("model.safetensors", [4096, 4096, 17])])
    registration = {
        "chunkSize": 4194304, "version": 1,
        "reference": {"name": "model", "organization": "org", "revision": "main"},
        "source": one["source"],
        "files": [{"path": "a.bin", "scheme": "fixed", "sha256": digest("a"), "size": 10,
                   "spans": [{"offset": 0, "length": 6}, {"offset": 6, "length": 4}]}],
    }
    edge = manifest([("w.bin", [2**63, 2**63 - 1])])
    yield "manifest", {
        "two-files": to_json(one),
        "empty": to_json(manifest([])),
        "registration": to_json(registration),
        "edge-sizes": to_json(edge),
    }
    chunk = {"id": digest("c"), "length": 4194304, "offset": 0}
    yield "swarm", {
        "status": b"\x00" + to_json({"node": "n1", "manifest": digest("m"), "pullingSince": 1.7e9,
                                     "chunks": {"model.safetensors": [chunk, dict(chunk, offset=4194304)]}}),
        "nothing": b"\x00" + to_json({"chunks": {}}),
        "query": b"\x01" + to_json({"repo": "org/model", "commit": "0" * 40, "chunkSize": 4194304,
                                    "files": ["model.safetensors"], "seen": {"model.safetensors": 2}}),
    }
    (two, two_size), (single, single_size) = safetensors_file([("a", 16), ("b", 48)]), safetensors_file([("w", 8192)], False)
    yield "safetensors", {
        "two-tensors": b"\x00" + u64(two_size) + two,
        "no-metadata": b"\x00" + u64(single_size) + single,
        "truncated": b"\x00" + u64(1 << 20) + two[:20],
    }
    gguf, gguf_size = gguf_file([("tok", 64), ("blk.0", 8192)])
    gguf1, gguf1_size = gguf_file([("tok", 64), ("blk.0", 8192)], alignment=1)
    yield "gguf", {
        "two-tensors": b"\x00" + u64(gguf_size) + gguf,
        "header-only": b"\x00" + u64(gguf_size) + gguf[:100],
        "bigger-file": b"\x01" + u64(gguf_size * 64) + gguf,
        "align-1": b"\x00" + u64(gguf1_size) + gguf1,
    }
    lfs = {"oid": "a" * 64, "size": 5000000, "pointerSize": 134}
    yield "hub-json", {
        "info": b"\x00" + to_json({"id": "org/model", "sha": "0" * 40, "private": False, "downloads": 3, "tags": ["x"],
                                   "siblings": [{"rfilename": "model.safetensors", "size": 5000000,
                                                 "lfs": {"size": 5000000, "sha256": "a" * 64, "pointerSize": 134}}]}),
        "tree": b"\x01" + to_json([{"type": "file", "oid": "b" * 40, "size": 5000000, "path": "model.safetensors", "lfs": lfs},
                                   {"type": "directory", "oid": "c" * 40, "path": "sub"}]),
    }


def main():
    out = sys.argv[1]
    for target, files in seeds():
        folder = os.path.join(out, target)
        os.makedirs(folder, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(folder, name), "wb") as handle:
                handle.write(data)


if __name__ == "__main__":
    main()
