#!/usr/bin/env python3
"""CPU seconds per GB pulled (issue 27, part 1), against the floor measured on the same machine.

Contenders, each the CPU (user + system) of the process that receives and stores the bytes, per GB:
  hub pull    `manta-net pull` from an uncapped local `manta-net hub serve` (no agent)
  peer pull   an agent pulling from a peer agent that holds the model (the hub is asked for metadata only);
              the receiving agent's CPU, and the serving peer's
  floor       what the design must do per byte, without Manta:
                receive: curl fetching the same files from the same hub to /dev/null (socket reads, HTTP)
                store:   benchmarks/import/floor.c on the same files (both SHA-256 passes, the chunk writes)
The hub's own CPU is not counted. One extra hub pull and one extra peer pull (the receiving agent) run under
`perf record`, and their samples are split into hashing, copying, kernel, HTTP and the rest.

Writes benchmarks/results/pull-cpu.json (the harness's schema) and the raw figures to <work>/figures.json.
Usage: benchmarks/pull/cpu.sh [--runs 3]   (cpu.sh builds, makes the fixture and calls this)
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import figures as harness  # noqa: E402
from loopback import free_port, hub_bytes, wait_for  # noqa: E402


def cpu_of_command(command, **kwargs):
    """User + system CPU seconds of `command` and the children it waited for."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        sys.exit(f"failed: {' '.join(command)}: {process.stderr.read().decode()[-800:]}")
    return usage.ru_utime + usage.ru_stime


def cpu_of_pid(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def file_urls(endpoint, repo):
    tree = json.load(urllib.request.urlopen(f"{endpoint}/api/models/{repo}/tree/main?recursive=true"))
    return [f"{endpoint}/{repo}/resolve/main/{entry['path']}" for entry in tree if entry["type"] == "file"]


def start_agent(manta_net, work, name, endpoint, peers=None):
    port = free_port()
    store = f"{work}/{name}"
    command = [manta_net, "agent", "--store", store, "--listen", f"127.0.0.1:{port}", "--endpoint", endpoint, "--token-file", f"{work}/token"]
    if peers:
        command += ["--peers", peers]
    agent = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}.err", "w"))
    wait_for(lambda: os.path.exists(f"{store}/agent.sock"), 60, f"agent {name}")
    return agent, store, port


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def categorize(report):
    """Splits `perf report --sort dso,sym` percentages into where the time goes."""
    buckets = {"hashing": 0.0, "socket reads": 0.0, "page-cache writes": 0.0, "fresh memory (faults, zeroing)": 0.0,
               "copies in the process": 0.0, "other kernel": 0.0, "HTTP and NIO": 0.0, "the rest": 0.0}
    rules = [
        ("hashing", r"hashBlocks|pairBody|sha256|SHA256|sha_ni|Hasher"),
        ("socket reads", r"_copy_to_iter|tcp_|skb_|sock_|inet_"),
        ("page-cache writes", r"copy_folio_from_iter|ext4_|filemap_|folio|mpage_|block_|find_get_block|__es_"),
        ("fresh memory (faults, zeroing)", r"page_fault|clear_page|memset|handle_mm_fault|do_anonymous_page|alloc_.*pages|charge_memcg|"
                                           r"memcg|get_page_from_freelist|unmap_page_range|lruvec|lock_vma"),
        ("copies in the process", r"memcpy|memmove|rep_movs"),
    ]
    for line in report.splitlines():
        match = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
        if not match:
            continue
        share, level, symbol = float(match[1]), match[3], match[4]
        bucket = next((name for name, pattern in rules if re.search(pattern, symbol)), None)
        if bucket is None:
            bucket = "other kernel" if level == "k" else "HTTP and NIO" if re.search(r"NIO|HTTP|ByteBuffer|Channel|EventLoop", symbol) else "the rest"
        buckets[bucket] += share
    return buckets


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manta-net", required=True)
    parser.add_argument("--floor", required=True, help="the import-floor binary built from benchmarks/import/floor.c")
    parser.add_argument("--model", required=True, help="folder of the model to serve")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default="/var/tmp/manta-bench-cpu")
    arguments = parser.parse_args()
    work, repo = arguments.work, "bench/model"
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(f"{work}/hub/bench")
    os.symlink(os.path.abspath(arguments.model), f"{work}/hub/{repo}")
    with open(f"{work}/token", "w") as token:
        token.write("bench-cluster-token\n")
    size = sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(arguments.model) for name in names)
    gigabytes = size / 1e9

    hub_port = free_port()
    hub = subprocess.Popen(
        [arguments.manta_net, "hub", "serve", f"{work}/hub", "--addr", f"127.0.0.1:{hub_port}"], stdout=subprocess.DEVNULL,
        stderr=open(f"{work}/hub.err", "w"))
    endpoint = f"http://127.0.0.1:{hub_port}"
    environment = dict(os.environ, HF_ENDPOINT=endpoint)
    try:
        wait_for(lambda: subprocess.run(["curl", "-sf", f"{endpoint}/api/models/{repo}"], capture_output=True).returncode == 0, 60, "the hub")
        urls = file_urls(endpoint, repo)  # the hub hashes the files once, before anything is timed
        subprocess.run(["cat"] + [os.path.join(folder, name) for folder, _, names in os.walk(arguments.model) for name in names],
                       stdout=subprocess.DEVNULL, check=True)

        figures = {"bytes": size, "runs": arguments.runs}
        fetch_all = ["curl", "-s"] + [part for url in urls for part in (url, "-o", "/dev/null")]
        receive = [cpu_of_command(fetch_all) for _ in range(arguments.runs)]
        store = []
        for _ in range(arguments.runs):
            shutil.rmtree(f"{work}/floor", ignore_errors=True)
            store.append(cpu_of_command([arguments.floor, os.path.abspath(arguments.model), f"{work}/floor"]))
        figures["floor receive s/GB"] = median(receive) / gigabytes
        figures["floor store s/GB"] = median(store) / gigabytes
        figures["floor s/GB"] = figures["floor receive s/GB"] + figures["floor store s/GB"]

        pulls = []
        for _ in range(arguments.runs):
            shutil.rmtree(f"{work}/seed", ignore_errors=True)
            pulls.append(cpu_of_command([arguments.manta_net, "pull", repo, "--store", f"{work}/seed"], env=environment))
        figures["hub pull s/GB"] = median(pulls) / gigabytes

        receiving, serving = [], []
        seed, _, seed_port = start_agent(arguments.manta_net, work, "seed", endpoint)
        try:
            for run in range(arguments.runs):
                name = f"node{run}"
                node, store_path, _ = start_agent(arguments.manta_net, work, name, endpoint, peers=f"127.0.0.1:{seed_port}")
                try:
                    before_hub, before_node, before_seed = hub_bytes(endpoint), cpu_of_pid(node.pid), cpu_of_pid(seed.pid)
                    cpu_of_command([arguments.manta_net, "pull", repo, "--store", store_path], env=environment)
                    receiving.append(cpu_of_pid(node.pid) - before_node)
                    serving.append(cpu_of_pid(seed.pid) - before_seed)
                    from_hub = hub_bytes(endpoint) - before_hub
                    if from_hub > size * 0.01:
                        sys.exit(f"the peer pull took {from_hub:.0f} bytes from the hub: not a peer pull")
                finally:
                    stop(node)
                    shutil.rmtree(store_path, ignore_errors=True)
            node, store_path, _ = start_agent(arguments.manta_net, work, "profiled", endpoint, peers=f"127.0.0.1:{seed_port}")
            try:
                recorder = subprocess.Popen(["perf", "record", "-F", "999", "-g", "-o", f"{work}/perf-peer.data", "-p", str(node.pid)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(2)  # perf attaches to the agent's threads before the pull starts, not during its first second
                cpu_of_command([arguments.manta_net, "pull", repo, "--store", store_path], env=environment)
                recorder.send_signal(signal.SIGINT)
                recorder.wait(timeout=60)
            finally:
                stop(node)
                shutil.rmtree(store_path, ignore_errors=True)
        finally:
            stop(seed)
        figures["peer pull s/GB"] = median(receiving) / gigabytes
        figures["peer serve s/GB"] = median(serving) / gigabytes

        shutil.rmtree(f"{work}/seed", ignore_errors=True)
        subprocess.run(["perf", "record", "-F", "999", "-g", "-o", f"{work}/perf.data", "--", arguments.manta_net, "pull", repo, "--store", f"{work}/seed"],
                       env=environment, check=True, capture_output=True)
        for key, data in (("hub pull", "perf.data"), ("peer pull", "perf-peer.data")):
            report = subprocess.run(["perf", "report", "-i", f"{work}/{data}", "--stdio", "--no-children", "--sort", "dso,sym"],
                                    capture_output=True, text=True).stdout
            figures[f"{key} profile %"] = {name: round(share, 1) for name, share in categorize(report).items()}
            figures[f"{key} top symbols"] = [line.strip() for line in report.splitlines() if re.match(r"\s*[\d.]+%", line)][:12]
    finally:
        stop(hub)

    for key in ("hub pull", "peer pull", "peer serve"):
        figures[f"{key} ÷ floor"] = round(figures[f"{key} s/GB"] / figures["floor s/GB"], 2)
    with open(os.path.join(work, "figures.json"), "w") as output:
        json.dump(figures, output, indent=2)
    floor = round(figures["floor s/GB"], 3)
    floor_name = f"floor: curl receiving {figures['floor receive s/GB']:.2f} + floor.c hashing twice and writing {figures['floor store s/GB']:.2f}"
    rows = [
        harness.figure("hub pull, uncapped local hub: CPU s per GB", round(figures["hub pull s/GB"], 3), "s/GB", floor_name, floor,
                       ratio_means="÷ floor", target="≤ 1.25", met=harness.at_most(1.25)(figures["hub pull s/GB"] / floor)),
        harness.figure("peer pull (the receiving agent): CPU s per GB", round(figures["peer pull s/GB"], 3), "s/GB", floor_name, floor,
                       ratio_means="÷ floor", target="≤ 1.25", met=harness.at_most(1.25)(figures["peer pull s/GB"] / floor)),
        harness.figure("peer serve (the agent that holds the model): CPU s per GB", round(figures["peer serve s/GB"], 3), "s/GB"),
    ]
    harness.write("pull-cpu", rows, f"benchmarks/pull/cpu.sh --runs {arguments.runs}")
    print(f"{size / 2**20:.0f} MiB, median of {arguments.runs}; CPU seconds per GB (user + system)")
    print("| | s/GB | ÷ floor |")
    print("|---|---|---|")
    print(f"| floor (receive {figures['floor receive s/GB']:.2f} + store {figures['floor store s/GB']:.2f}) | {figures['floor s/GB']:.2f} | 1.00 |")
    for key in ("hub pull", "peer pull", "peer serve"):
        print(f"| {key} | {figures[f'{key} s/GB']:.2f} | {figures[f'{key} ÷ floor']:.2f} |")
    for key in ("hub pull", "peer pull"):
        print(f"{key} profile:", ", ".join(f"{name} {share}%" for name, share in figures[f"{key} profile %"].items()))
        print("top symbols:")
        for line in figures[f"{key} top symbols"]:
            print("  " + line)


if __name__ == "__main__":
    main()
