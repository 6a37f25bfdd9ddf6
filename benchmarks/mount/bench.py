#!/usr/bin/env python3
"""Benchmarks `manta mount` against native reads, libfuse's passthrough_ll, squashfuse (zstd image) and
casync mount, on the same files in the same run. Needs root (drops the page cache, mounts).

Usage: python3 benchmarks/mount/bench.py --manta .build/release/manta --fixtures /tmp/bench-fixtures \
           [--work /tmp/manta-mount-bench] [--skip-casync]
Build both executables first (`swift build -c release --static-swift-stdlib --product manta`, then `--product manta-net`): `manta mount` runs the
`manta-net` beside `manta`, and `--product manta` alone would leave an older one there.
Prints a markdown section for benchmarks/RESULTS.md.
"""
import argparse, mmap, os, random, shutil, signal, subprocess, sys, time

EXAMPLE = "/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c"


def run(command, **kwargs):
    return subprocess.run(command, check=True, **kwargs)


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as file:
        file.write("3\n")


def mounted(path):
    with open("/proc/self/mountinfo") as table:
        return any(line.split()[4] == path for line in table)


def wait_mounted(path, process=None, timeout=30):
    deadline = time.time() + timeout
    while not mounted(path):
        if process is not None and process.poll() is not None:
            sys.exit(f"mounting {path} failed (exit {process.returncode})")
        if time.time() > deadline:
            sys.exit(f"{path} not mounted after {timeout} s")
        time.sleep(0.02)
    os.stat(path)  # waits for the FUSE INIT handshake


def unmount(path, process=None):
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    if mounted(path):
        subprocess.run(["fusermount3", "-u", "-z", path])
    deadline = time.time() + 10
    while mounted(path) and time.time() < deadline:
        time.sleep(0.02)


class MantaMount:
    """`manta mount` of `store` at `mountpoint`, for the suites in this folder."""

    def __init__(self, manta, store, mountpoint, options=(), environment=None):
        self.manta, self.store, self.mountpoint = manta, store, mountpoint
        self.options, self.environment = list(options), environment or {}
        self.process = None

    def start(self, wait=True):
        """Starts the mount; with `wait`, returns once the kernel routes requests to it."""
        self.process = subprocess.Popen([self.manta, "mount", self.mountpoint, "--store", self.store, *self.options],
                                        env={**os.environ, **self.environment}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait:
            wait_mounted(self.mountpoint, self.process)

    def stop(self):
        unmount(self.mountpoint, self.process)


def files_below(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


def timed_cat(paths, readers=1):
    start = time.perf_counter()
    processes = [subprocess.Popen(["cat", *paths], stdout=subprocess.DEVNULL) for _ in range(readers)]
    for process in processes:
        if process.wait() != 0:
            sys.exit(f"cat {paths[0]}... failed")
    return time.perf_counter() - start


def random_reads(paths, count=20000, size=4096, seed=7):
    generator = random.Random(seed)
    handles = [(os.open(path, os.O_RDONLY), os.path.getsize(path)) for path in paths]
    handles = [(fd, length) for fd, length in handles if length > size]
    start = time.perf_counter()
    for _ in range(count):
        fd, length = handles[generator.randrange(len(handles))]
        os.pread(fd, size, generator.randrange(0, length - size))
    elapsed = time.perf_counter() - start
    for fd, _ in handles:
        os.close(fd)
    return elapsed


def mmap_touch(paths):
    start = time.perf_counter()
    total = 0
    for path in paths:
        length = os.path.getsize(path)
        if length == 0:
            continue
        with open(path, "rb") as file, mmap.mmap(file.fileno(), length, prot=mmap.PROT_READ) as mapping:
            for offset in range(0, length, 4096):
                total += mapping[offset]
    return time.perf_counter() - start


class System:
    """A way to see the files: `start()` (re)mounts, `root` is where the dataset's files are."""

    def __init__(self, name, root_for, start=None, stop=None):
        self.name, self.root_for, self._start, self._stop = name, root_for, start, stop

    def start(self):
        if self._start:
            self._start()

    def stop(self):
        if self._stop:
            self._stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manta", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--work", default="/tmp/manta-mount-bench")
    parser.add_argument("--skip-casync", action="store_true")
    parser.add_argument("--rounds", type=int, default=9, help="samples per contender for (a) and (b), taken in turn")
    arguments = parser.parse_args()
    manta = os.path.abspath(arguments.manta)
    work = arguments.work
    datasets = {
        "synthetic 1 GiB": ("synthetic-1024m", "bench/synthetic"),
        "real (all-MiniLM-L6-v2, 87 MiB)": ("real/sentence-transformers/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"),
    }
    for path in [f"{work}/mnt/{name}" for name in ("manta", "passthrough", "squash-synthetic", "squash-real", "casync-synthetic", "casync-real")]:
        unmount(path)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    commands = []

    def setup(command):
        commands.append(" ".join(command))
        run(command, stdout=subprocess.DEVNULL)

    store = f"{work}/store"
    for folder, repo in datasets.values():
        setup([manta, "import", f"{arguments.fixtures}/{folder}", "--repo", repo, "--store", store])
    setup(["gcc", "-O2", EXAMPLE, *subprocess.check_output(["pkg-config", "--cflags", "--libs", "fuse3"], text=True).split(), "-o", f"{work}/passthrough_ll"])
    for key, (folder, _) in zip(("synthetic", "real"), datasets.values()):
        setup(["mksquashfs", f"{arguments.fixtures}/{folder}", f"{work}/{key}.sqfs", "-comp", "zstd", "-noappend", "-quiet"])
        if not arguments.skip_casync:
            setup(["casync", "make", f"--store={work}/casync.castr", f"{work}/{key}.caidx", f"{arguments.fixtures}/{folder}"])
    for name in ("manta", "passthrough", "squash-synthetic", "squash-real", "casync-synthetic", "casync-real"):
        os.makedirs(f"{work}/mnt/{name}")

    processes = {}

    manta_mount = MantaMount(manta, store, f"{work}/mnt/manta")

    def start_passthrough(read_ahead_kib=None):
        path = f"{work}/mnt/passthrough"
        process = subprocess.Popen([f"{work}/passthrough_ll", "-f", "-o", f"source={arguments.fixtures}", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes["passthrough"] = process
        wait_mounted(path, process)
        if read_ahead_kib:
            # The same read-ahead manta sets on its own mount.
            device = os.stat(path).st_dev
            with open(f"/sys/class/bdi/{os.major(device)}:{os.minor(device)}/read_ahead_kb", "w") as file:
                file.write(str(read_ahead_kib))

    def stop_passthrough():
        unmount(f"{work}/mnt/passthrough", processes.pop("passthrough", None))

    def start_squash():
        for key in ("synthetic", "real"):
            run(["squashfuse", f"{work}/{key}.sqfs", f"{work}/mnt/squash-{key}"])
            wait_mounted(f"{work}/mnt/squash-{key}")

    def stop_squash():
        for key in ("synthetic", "real"):
            unmount(f"{work}/mnt/squash-{key}")

    def start_casync():
        for key in ("synthetic", "real"):
            path = f"{work}/mnt/casync-{key}"
            process = subprocess.Popen(["casync", "mount", f"--store={work}/casync.castr", f"{work}/{key}.caidx", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            processes[f"casync-{key}"] = process
            wait_mounted(path, process)

    def stop_casync():
        for key in ("synthetic", "real"):
            unmount(f"{work}/mnt/casync-{key}", processes.pop(f"casync-{key}", None))

    def dataset_key(folder):
        return "synthetic" if folder.startswith("synthetic") else "real"

    systems = [
        System("native", lambda folder, repo: f"{arguments.fixtures}/{folder}"),
        System("manta", lambda folder, repo: f"{work}/mnt/manta/models/{repo}", manta_mount.start, manta_mount.stop),
        System("passthrough_ll", lambda folder, repo: f"{work}/mnt/passthrough/{folder}", start_passthrough, stop_passthrough),
        System("passthrough_ll, 4 MiB read-ahead", lambda folder, repo: f"{work}/mnt/passthrough/{folder}",
               lambda: start_passthrough(4096), stop_passthrough),
        System("squashfuse (zstd)", lambda folder, repo: f"{work}/mnt/squash-{dataset_key(folder)}", start_squash, stop_squash),
    ]
    if not arguments.skip_casync:
        systems.append(System("casync mount", lambda folder, repo: f"{work}/mnt/casync-{dataset_key(folder)}", start_casync, stop_casync))

    results = {}  # (dataset, measure, system) -> seconds
    compared = [system for system in systems if system.name in ("native", "manta", "passthrough_ll")]
    rounds = arguments.rounds
    # Per round, the speed of manta against each other contender of the same round: (label, measure, other) → ratios.
    paired = {}

    def median(samples):
        return sorted(samples)[len(samples) // 2]

    def interleaved(label, measure, contenders, paths_of, cold):
        """The median of `rounds` samples per contender, taken in turn so that a slow minute of the shared disk or
        CPU falls on all of them alike."""
        samples = {system.name: [] for system in contenders}
        for _ in range(rounds):
            for system in contenders:
                system.stop()
                if cold:
                    drop_caches()
                system.start()
                samples[system.name].append(timed_cat(paths_of(system)))
        for name, values in samples.items():
            results[(label, measure, name)] = median(values)
            if name != "manta":
                paired[(label, measure, name)] = [other / mine for other, mine in zip(values, samples["manta"])]

    try:
        for label, (folder, repo) in datasets.items():
            names = files_below(f"{arguments.fixtures}/{folder}")

            def paths_of(system):
                return [f"{system.root_for(folder, repo)}/{name}" for name in names]

            # (a) cold: page cache dropped, freshly started mount; (b) fresh mount, its source already in page cache.
            interleaved(label, "a cold first read", compared, paths_of, cold=True)
            interleaved(label, "b fresh mount, source in page cache", [system for system in compared if system.name != "native"], paths_of, cold=False)
            for system in systems:
                paths = paths_of(system)
                if system not in compared:
                    system.stop(); drop_caches(); system.start()
                    results[(label, "a cold first read", system.name)] = timed_cat(paths)
                else:
                    system.stop(); system.start()
                    timed_cat(paths)
                # (c) repeated read through the same mount, (d) random 4 KiB reads and an mmap page-touch pass, warm.
                results[(label, "c repeated read", system.name)] = median([timed_cat(paths) for _ in range(3)])
                results[(label, "d random 4 KiB reads (20k)", system.name)] = random_reads(paths)
                results[(label, "d mmap page-touch pass", system.name)] = median([mmap_touch(paths) for _ in range(3)])
                # (e) 4 concurrent readers of all files, cold.
                system.stop(); drop_caches(); system.start()
                results[(label, "e 4 concurrent readers, cold", system.name)] = timed_cat(paths, readers=4)
                if system.name == "manta":
                    with open(f"/proc/{processes['manta'].pid}/status") as status:
                        peak = next(line for line in status if line.startswith("VmHWM")).split()[1]
                    results[(label, "mount peak RSS", system.name)] = int(peak) / 1024
                system.stop()
                print(f"done: {label} / {system.name}", file=sys.stderr)
    finally:
        for system in systems:
            system.stop()

    print("## Mount (issue 3)\n")
    print(f"Machine: {os.cpu_count()} cores, `{os.uname().release}`; other sessions may share the machine (expect noise).")
    print(f"Run: `python3 benchmarks/mount/bench.py --manta {arguments.manta} --fixtures {arguments.fixtures}`"
          " (the 1 GiB model from `python3 scripts/make-fixtures.py --synthetic-mib 1024 --out /tmp/bench-fixtures`).")
    print(f"Reads are `cat <every file> > /dev/null`; (a) and (b) are medians of {rounds} for native, manta and passthrough_ll, taken in turn"
          f" (one sample of each, {rounds} times over); cold runs `sync; echo 3 > /proc/sys/vm/drop_caches` first and start a fresh mount;"
          " (c) and the mmap pass are medians of 3; random reads are 20,000 `os.pread` of 4 KiB at seeded random offsets; the mmap pass"
          " touches one byte per 4 KiB page.\n")
    print("Setup commands:\n")
    for command in commands:
        print(f"    {command}")
    print()
    for label in datasets:
        print(f"### {label}\n")
        names = [system.name for system in systems]
        print("| measure | " + " | ".join(names) + " | manta ÷ native | manta vs passthrough_ll |")
        print("|---|" + "---|" * (len(names) + 2))
        measures = sorted({measure for (dataset, measure, _) in results if dataset == label})
        for measure in measures:
            row = [results.get((label, measure, name)) for name in names]
            cells = [f"{value:.3f}" if value is not None else "–" for value in row]
            native, mine, passthrough = (results.get((label, measure, name)) for name in ("native", "manta", "passthrough_ll"))
            if "RSS" in measure:
                ratio_native = ratio_passthrough = "–"
            else:
                # Speed relative to native (>1 is faster than native) and to passthrough_ll.
                ratio_native = f"{native / mine:.2f}× native speed" if native and mine else "–"
                ratio_passthrough = f"{passthrough / mine:.2f}× faster" if passthrough and mine else "–"
            print(f"| {measure} ({'MiB' if 'RSS' in measure else 's'}) | " + " | ".join(cells) + f" | {ratio_native} | {ratio_passthrough} |")
        print()
        # The disk's speed swings from minute to minute: a ratio within each round, side by side, is steadier than a ratio of medians.
        for (dataset, measure, other), ratios in sorted(paired.items()):
            if dataset == label:
                print(f"- {measure}: manta's speed ÷ {other}'s, round by round: median {median(ratios):.2f}× (min {min(ratios):.2f}×, max {max(ratios):.2f}×, {len(ratios)} rounds)")
        print()


if __name__ == "__main__":
    main()
