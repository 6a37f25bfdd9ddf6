#!/usr/bin/env python3
"""Issue 24's measures of the mount's kernel paths, against native reads of the same files in the same run:
page-cache growth per byte of a cold read, an mmap page-touch pass (cold and warm), a safetensors load on the
CPU (every tensor through `safe_open`), opening and closing each file, and the disk bytes of the store with and
without passthrough copies.

Contenders: native (the files themselves); manta with passthrough (the kernel reads each file's passthrough
copy, built on first open); manta's chunk path (`MANTA_FUSE_FEATURES=none`: every byte through the mount, as
on a kernel without passthrough). Needs root (drops the page cache, mounts), safetensors and torch (CPU).

Usage: python3 benchmarks/mount/kernel.py --manta .build/release/manta --model /tmp/bench-fixtures/synthetic-1024m
           [--work /tmp/manta-kernel-bench] [--rounds 3]
Prints a markdown section for benchmarks/RESULTS.md.
"""
import argparse, glob, os, shutil, statistics, subprocess, sys, time

from bench import MantaMount, drop_caches, mmap_touch  # benchmarks/mount/bench.py, beside this script


def resident_bytes(paths):
    """Bytes of these files in the page cache (fincore), so that other processes' file activity does not count."""
    paths = [path for path in paths if os.path.getsize(path) > 0]
    if not paths:
        return 0
    output = subprocess.check_output(["fincore", "--bytes", "--noheadings", "--output", "RES", *paths], text=True)
    return sum(int(line) for line in output.split())


def files_below(root):
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(root) for name in names)


def read_all(paths):
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb", buffering=0) as file:
            while file.read(4 << 20):
                pass
    return time.perf_counter() - start


def open_close(paths, rounds=50):
    """Opens and closes every file, `rounds` times: what a loader pays per file before its first byte."""
    start = time.perf_counter()
    for _ in range(rounds):
        for path in paths:
            os.close(os.open(path, os.O_RDONLY))
    return time.perf_counter() - start


def safetensors_load(paths):
    """Every tensor through safe_open onto the CPU (torch: the synthetic models are bfloat16, which numpy lacks)."""
    from safetensors import safe_open
    start = time.perf_counter()
    for path in paths:
        if path.endswith(".safetensors"):
            with safe_open(path, framework="pt", device="cpu") as tensors:
                for key in tensors.keys():
                    tensors.get_tensor(key)
    return time.perf_counter() - start


def disk_bytes(path):
    """Bytes allocated on disk below `path` (shared extents count once per file, as du counts them)."""
    if not os.path.exists(path):
        return 0
    return int(subprocess.check_output(["du", "-s", "--block-size=1", path], text=True).split()[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manta", required=True)
    parser.add_argument("--model", required=True, help="a folder of model files (safetensors among them)")
    parser.add_argument("--work", default="/tmp/manta-kernel-bench")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    manta = os.path.abspath(arguments.manta)
    work, repo = arguments.work, "bench/kernel"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(f"{work}/mnt")
    store = f"{work}/store"
    subprocess.run([manta, "import", arguments.model, "--repo", repo, "--store", store], check=True, stdout=subprocess.DEVNULL)
    originals = files_below(arguments.model)
    total = sum(os.path.getsize(path) for path in originals)
    mount_root = f"{work}/mnt/models/{repo}"
    mounted_paths = [os.path.join(mount_root, os.path.relpath(path, arguments.model)) for path in originals]

    passthrough = MantaMount(manta, store, f"{work}/mnt")
    chunks = MantaMount(manta, store, f"{work}/mnt", environment={"MANTA_FUSE_FEATURES": "none"})
    # The passthrough copies are built on first open: open every file once and wait for them.
    passthrough.start()
    for path in mounted_paths:
        os.close(os.open(path, os.O_RDONLY))
    wanted = len([path for path in originals if os.path.getsize(path) > 0])
    deadline = time.time() + 600
    while len(glob.glob(f"{store}/passthrough/*.seal")) < wanted:
        if time.time() > deadline:
            sys.exit("passthrough copies were not built within 10 minutes")
        time.sleep(0.2)
    passthrough.stop()

    contenders = {
        "native": (originals, None),
        "manta, passthrough": (mounted_paths, passthrough),
        "manta, chunk path (MANTA_FUSE_FEATURES=none)": (mounted_paths, chunks),
    }
    results = {}

    def sample(name, function, cold):
        paths, mount = contenders[name]
        if mount:
            mount.stop()
            mount.start()
        # Dropped after the mount started: a server started on a cold cache first reads its own binary and store
        # from disk, which an agent serving pods has long done (measured: 0.92-0.96 s against 0.46 s for the same
        # cold mmap pass over the 1 GiB model).
        if cold:
            drop_caches()
        if not cold:
            function(paths)
        result = function(paths)
        if mount:
            mount.stop()
        return result

    def measure(label, function, cold):
        # Round by round, each contender in turn (the order rotated every round), so that a noisy spell on this shared
        # machine's disk falls on all of them rather than on one contender's rounds.
        names = list(contenders)
        samples = {name: [] for name in names}
        for round in range(arguments.rounds):
            for name in names[round % len(names):] + names[:round % len(names)]:
                samples[name].append(sample(name, function, cold))
        for name in names:
            results[(label, name)] = statistics.median(samples[name])
        print(f"done: {label}", file=sys.stderr)

    for name, (paths, mount) in contenders.items():
        if mount:
            mount.stop()
            mount.start()
        # Dropped after the mount started, so that what the mount reads to start does not count.
        drop_caches()
        read_all(paths)
        # Where a byte read through the mount can be cached: the mount's own pages (for a passthrough file, fincore
        # of the mounted file sees its copy's pages instead), the chunk files, the passthrough copies.
        cached = resident_bytes(paths) + resident_bytes(files_below(f"{store}/chunks"))
        if name == "manta, chunk path (MANTA_FUSE_FEATURES=none)":
            cached += resident_bytes(files_below(f"{store}/passthrough"))
        results[("page-cache bytes per byte read, cold read (fincore)", name)] = cached / total
        if mount:
            mount.stop()
    measure("cold read of every file (s)", read_all, cold=True)
    measure("mmap page-touch pass, cold (s)", mmap_touch, cold=True)
    measure("mmap page-touch pass, warm (s)", mmap_touch, cold=False)
    measure("safetensors safe_open + every get_tensor, cold (s)", safetensors_load, cold=True)
    measure("safetensors safe_open + every get_tensor, warm (s)", safetensors_load, cold=False)
    measure("open + close of every file, 50 rounds, warm (s)", open_close, cold=False)

    chunk_bytes, copy_bytes = disk_bytes(f"{store}/chunks"), disk_bytes(f"{store}/passthrough")
    filesystem = subprocess.check_output(["stat", "-f", "-c", "%T", store], text=True).strip()

    print("## Mount kernel paths (issue 24, `benchmarks/mount/kernel.py`)\n")
    print(f"Machine: {os.cpu_count()} cores, `{os.uname().release}`, store on {filesystem}; model: {len(originals)} files,"
          f" {total / (1 << 20):.0f} MiB. Medians of {arguments.rounds}, contenders taken in turn each round; cold runs start a fresh mount, then"
          " `sync; echo 3 > /proc/sys/vm/drop_caches`; warm runs read once before the timed pass.")
    print(f"Run: `python3 benchmarks/mount/kernel.py --manta {arguments.manta} --model {arguments.model} --rounds {arguments.rounds}`\n")
    names = list(contenders)
    print("| measure | " + " | ".join(names) + " | passthrough ÷ native speed | chunk path ÷ native speed |")
    print("|---|" + "---|" * (len(names) + 2))
    for label in dict.fromkeys(label for label, _ in results):
        values = [results[(label, name)] for name in names]
        if label.startswith("page-cache"):
            print(f"| {label} | " + " | ".join(f"{value:.3f}×" for value in values) + " | – | – |")
        else:
            print(f"| {label} | " + " | ".join(f"{value:.3f}" for value in values)
                  + f" | {values[0] / values[1]:.2f}× | {values[0] / values[2]:.2f}× |")
    print()
    print(f"Disk: the store's chunks take {chunk_bytes / (1 << 20):.0f} MiB, the passthrough copies {copy_bytes / (1 << 20):.0f} MiB"
          f" ({copy_bytes / max(chunk_bytes, 1):.2f}× the chunks; `du -s --block-size=1` of `store/chunks` and `store/passthrough`).")


if __name__ == "__main__":
    main()
