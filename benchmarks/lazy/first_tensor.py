#!/usr/bin/env python3
"""Times safetensors' safe_open + get_tensor of one tensor through a lazy mount, and the ideal: the transfer time
of the file's header chunk plus that tensor's chunks at the hub's cap (layout from the store's registration).

Usage: first_tensor.py <source shard> <mounted shard> <store> <cap bytes/s>
Prints one line of JSON: seconds, needed_bytes, ideal_seconds, ratio, tensor.
"""
import glob
import hashlib
import json
import os
import struct
import sys
import time

import ml_dtypes  # noqa: F401 (teaches numpy bfloat16)
from safetensors import safe_open

source, mounted, store, cap = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

with open(source, "rb") as f:
    length = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(length))
data_start = 8 + length
tensors = sorted((v["data_offsets"][0] + data_start, v["data_offsets"][1] + data_start, k) for k, v in header.items() if k != "__metadata__")
size = os.path.getsize(source)
# The biggest tensor in the middle of the shard: a typical single read.
start, end, name = max((t for t in tensors if size / 3 < t[0] < 2 * size / 3), key=lambda t: t[1] - t[0])

began = time.perf_counter()
with safe_open(mounted, framework="numpy") as f:
    tensor = f.get_tensor(name)
seconds = time.perf_counter() - began

with open(source, "rb") as f:
    f.seek(start)
    assert hashlib.sha256(tensor.tobytes()).digest() == hashlib.sha256(f.read(end - start)).digest(), "tensor bytes differ"

registration = json.load(open(glob.glob(os.path.join(store, "pending", "*.json"))[0]))
spans = next(file["spans"] for file in registration["files"] if file["path"] == os.path.basename(source))
needed = spans[0]["length"] + sum(s["length"] for s in spans[1:] if s["offset"] < end and s["offset"] + s["length"] > start)
print(json.dumps({"seconds": seconds, "needed_bytes": needed, "ideal_seconds": needed / cap, "ratio": seconds / (needed / cap), "tensor": name, "tensor_bytes": end - start}))
