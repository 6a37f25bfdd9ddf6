#!/usr/bin/env python3
"""Issue 24's restart target: a process that keeps a model file open and reads it in a loop, from a mount
namespace of its own (`unshare -m`, as a pod), while the server of the mount is killed (`kill -9`) and started
again, and while a new server takes over from a running one. Counts failed reads and the longest pause of a
single 1 MiB read. The peer in the same run is the mount without a holder (`--no-handover`): its reader fails.

Usage: python3 benchmarks/mount/restart.py --manta .build/release/manta --model /tmp/bench-fixtures/synthetic-1024m
           [--work /tmp/manta-restart-bench] [--restarts 5] [--gap 0.5]
Needs root (mounts, unshare). Prints a markdown section for benchmarks/RESULTS.md.
"""
import argparse, json, os, shutil, signal, statistics, subprocess, sys, time

from bench import MantaMount  # benchmarks/mount/bench.py, beside this script

# Reads `path` whole, again and again, until a line arrives on stdin; prints one JSON line: passes, errors,
# mismatched passes and every read's duration above 50 ms.
READER = r"""
import hashlib, json, os, select, sys, time
path, expected = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
passes = errors = mismatches = 0
pauses = []
print("open", flush=True)
while not select.select([sys.stdin], [], [], 0)[0]:
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    digest, offset = hashlib.sha256(), 0
    while True:
        started = time.monotonic()
        try:
            block = os.pread(fd, 1 << 20, offset)
        except OSError:
            errors += 1
            if errors > 1000:
                break
            time.sleep(0.01)
            continue
        took = time.monotonic() - started
        if took > 0.05:
            pauses.append(round(took, 3))
        if not block:
            break
        digest.update(block)
        offset += len(block)
    if errors > 1000:
        break
    passes += 1
    mismatches += digest.hexdigest() != expected
print(json.dumps({"passes": passes, "errors": errors, "mismatches": mismatches, "pauses": pauses}), flush=True)
"""


def start_reader(script, path, expected):
    reader = subprocess.Popen(["unshare", "-m", "--propagation", "unchanged", sys.executable, script, path, expected],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if reader.stdout.readline().strip() != "open":
        sys.exit("the reader could not open the file")
    return reader


def finish_reader(reader):
    output, _ = reader.communicate("stop\n", timeout=120)
    return json.loads(output.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manta", required=True)
    parser.add_argument("--model", required=True, help="a folder holding at least one .safetensors file")
    parser.add_argument("--work", default="/tmp/manta-restart-bench")
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between a kill and the next start")
    arguments = parser.parse_args()
    manta = os.path.abspath(arguments.manta)
    work, repo = arguments.work, "bench/restart"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(f"{work}/mnt")
    store, mountpoint = f"{work}/store", os.path.realpath(f"{work}/mnt")
    subprocess.run([manta, "import", arguments.model, "--repo", repo, "--store", store], check=True, stdout=subprocess.DEVNULL)
    name = sorted(name for name in os.listdir(arguments.model) if name.endswith(".safetensors"))[0]
    original = os.path.join(arguments.model, name)
    expected = subprocess.check_output(["sha256sum", original], text=True).split()[0]
    path = f"{mountpoint}/models/{repo}/{name}"
    script = f"{work}/reader.py"
    with open(script, "w") as file:
        file.write(READER)

    results = {}
    for label, options in [("handover, passthrough", []), ("handover, chunk path", ["--no-passthrough"])]:
        mount = MantaMount(manta, store, mountpoint, options)
        mount.start()
        reader = start_reader(script, path, expected)
        time.sleep(1)
        for _ in range(arguments.restarts):
            mount.process.send_signal(signal.SIGKILL)
            mount.process.wait()
            time.sleep(arguments.gap)
            mount.start()
            time.sleep(1)
        for _ in range(arguments.restarts):
            previous = mount.process
            mount.start()  # takes over from the running server, which exits
            previous.wait(timeout=30)
            time.sleep(1)
        results[label] = finish_reader(reader)
        mount.stop()

    # On the chunk path: a file opened with a passthrough backing is read by the kernel from its copy, server or not.
    mount = MantaMount(manta, store, mountpoint, ["--no-handover", "--no-passthrough"])
    mount.start()
    reader = start_reader(script, path, expected)
    time.sleep(1)
    mount.process.send_signal(signal.SIGKILL)
    mount.process.wait()
    time.sleep(arguments.gap)
    mount.start(wait=False)
    time.sleep(2)
    results["no holder (--no-handover), chunk path, one kill"] = finish_reader(reader)
    mount.stop()
    subprocess.run(["umount", "-l", mountpoint], stderr=subprocess.DEVNULL)

    size = os.path.getsize(original) / (1 << 20)
    print(f"Reader: `{name}` ({size:.0f} MiB) open across every restart, read whole in 1 MiB `pread`s again and again, "
          f"page cache dropped before each pass, in its own mount namespace. {arguments.restarts} `kill -9` + restart "
          f"({arguments.gap} s apart), then {arguments.restarts} takeovers of a running server.\n")
    print("| mount | passes | failed reads | mismatched passes | longest read (s) | reads > 50 ms |")
    print("|---|---|---|---|---|---|")
    for label, result in results.items():
        pauses = result["pauses"]
        longest = max(pauses) if pauses else 0
        print(f"| {label} | {result['passes']} | {result['errors']} | {result['mismatches']} | {longest:.3f} | {len(pauses)}"
              + (f" (median {statistics.median(pauses):.3f} s)" if pauses else "") + " |")


if __name__ == "__main__":
    main()
