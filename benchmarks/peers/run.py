#!/usr/bin/env python3
"""N-agent distribution benchmark on loopback.

For N in --nodes, starts a rate-capped `manta hub serve` (cap B) and N `manta agent`s (each capped at B
upload and B download, every other agent as a peer), then has every agent pull the same S-byte model at
once (`manta pull --store …` goes through each agent's socket). Measures the makespan (last agent done),
the hub's egress (its /metrics) and each agent's peak RSS, against hub-only distribution (the same
agents without peers) and, with --bittorrent, an aria2c swarm behind opentracker (a seeder capped at B
standing in for the hub, N leechers capped at B/B). Writes results.json and makespan.png next to --out.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from loopback import free_port, hub_bytes, wait_for  # noqa: E402


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read())[1])


def run_manta(manta, work, model, nodes, rate, with_peers, repo, stagger=0.0, slow_rate=None):
    """Returns (makespan seconds, hub bytes, max agent RSS MiB). `stagger` seconds pass between one pull's start
    and the next; with `slow_rate`, the agent started fourth is capped at that download rate instead."""
    hub_out = open(f"{work}/hub.out", "w+")
    hub = subprocess.Popen([manta, "hub", "serve", f"{work}/hub", "--addr", "127.0.0.1:0", "--max-rate", rate], stdout=hub_out, stderr=subprocess.DEVNULL)
    agents = []
    try:
        wait_for(lambda: "HF_ENDPOINT=" in open(f"{work}/hub.out").read(), 30, "the hub")
        endpoint = re.search(r"HF_ENDPOINT=(\S+)", open(f"{work}/hub.out").read())[1]
        urllib.request.urlopen(f"{endpoint}/api/models/{repo}/tree/main?recursive=true").read()  # the hub hashes files once
        ports = [free_port() for _ in range(nodes)]
        with open(f"{work}/token", "w") as f:
            f.write("bench-token\n")
        for index, port in enumerate(ports):
            store = f"{work}/node{index}"
            shutil.rmtree(store, ignore_errors=True)
            peers = ",".join(f"127.0.0.1:{p}" for p in ports if p != port)
            download = slow_rate if slow_rate and index == min(3, nodes - 1) else rate
            command = [manta, "agent", "--store", store, "--listen", f"127.0.0.1:{port}", "--endpoint", endpoint, "--token-file", f"{work}/token",
                       "--upload-rate", rate, "--download-rate", download]
            if with_peers and peers:
                command += ["--peers", peers]
            agents.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(f"{work}/agent{index}.err", "w")))
        for index in range(nodes):
            wait_for(lambda: os.path.exists(f"{work}/node{index}/agent.sock"), 30, f"agent {index}")
        before = hub_bytes(endpoint)
        started = time.time()
        pulls = []
        for index in range(nodes):
            if index and stagger:
                time.sleep(stagger)
            pulls.append(subprocess.Popen([manta, "pull", repo, "--store", f"{work}/node{index}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        finished = {}
        while len(finished) < len(pulls):
            for index, pull in enumerate(pulls):
                if index not in finished and pull.poll() is not None:
                    if pull.returncode != 0:
                        sys.exit(f"a pull failed: {pull.stderr.read().decode()[-500:]}")
                    finished[index] = round(time.time() - started, 2)
            time.sleep(0.05)
        print(f"  N={nodes} {'peers' if with_peers else 'hub only'}: each node done after {sorted(finished.values())} s", flush=True)
        makespan = time.time() - started
        served = hub_bytes(endpoint) - before
        rss = max(peak_rss_kib(agent.pid) for agent in agents) / 1024
        return makespan, served, rss
    finally:
        for process in agents + [hub]:
            process.send_signal(signal.SIGTERM)
        for process in agents + [hub]:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def info_hash(torrent):
    """The SHA-1 of the bencoded info dictionary, in hex."""
    import hashlib
    data = open(torrent, "rb").read()

    def end(i):  # index just past the bencoded value starting at i
        c = data[i:i + 1]
        if c == b"i":
            return data.index(b"e", i) + 1
        if c in (b"l", b"d"):
            i += 1
            while data[i:i + 1] != b"e":
                i = end(i)
            return i + 1
        colon = data.index(b":", i)
        return colon + 1 + int(data[i:colon])
    start = data.index(b"4:info") + len(b"4:info")
    return hashlib.sha1(data[start:end(start)]).hexdigest()


def run_bittorrent(work, model_dir, nodes, rate_bytes):
    """aria2c leechers behind opentracker, one aria2c seeder capped like the hub. Returns the makespan."""
    tracker_port = free_port()
    torrent = f"{work}/model.torrent"
    if os.path.exists(torrent):
        os.remove(torrent)
    subprocess.run(["mktorrent", "-a", f"http://127.0.0.1:{tracker_port}/announce", "-l", "22", "-o", torrent, model_dir], check=True, stdout=subprocess.DEVNULL)
    # Debian's opentracker serves whitelisted torrents only: whitelist this one's info hash.
    with open(f"{work}/whitelist.txt", "w") as f:
        f.write(info_hash(torrent) + "\n")
    os.chmod(f"{work}/whitelist.txt", 0o644)
    tracker = subprocess.Popen(["opentracker", "-i", "127.0.0.1", "-p", str(tracker_port), "-P", str(tracker_port), "-w", f"{work}/whitelist.txt", "-u", "nobody"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes = [tracker]
    try:
        limit = str(rate_bytes)
        common = ["aria2c", "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=true", "--file-allocation=none", "-q",
                  "--max-overall-upload-limit", limit, "--bt-tracker-interval=1", "--bt-request-peer-speed-limit=0", "--bt-max-peers=0"]
        seed_dir = os.path.dirname(model_dir)
        processes.append(subprocess.Popen(common + ["--seed-ratio=0.0", "--seed-time=1000", "-V", "--check-integrity=true", "-d", seed_dir,
                                                    "--listen-port", str(free_port()), torrent]))
        time.sleep(2)
        started = time.time()
        leechers = []
        for index in range(nodes):
            folder = f"{work}/bt{index}"
            shutil.rmtree(folder, ignore_errors=True)
            leechers.append(subprocess.Popen(common + ["--max-overall-download-limit", limit, "--seed-time=1000", "--seed-ratio=0.0", "-d", folder,
                                                       "--listen-port", str(free_port()), "--on-bt-download-complete", "/bin/true", torrent]))
        processes += leechers
        names = [os.path.join(dp, f) for dp, _, fs in os.walk(model_dir) for f in fs]

        def done(index):
            # aria2c keeps <dir>/<torrent name>.aria2 until the download is complete and verified.
            folder = f"{work}/bt{index}/{os.path.basename(model_dir)}"
            return not os.path.exists(folder + ".aria2") and all(
                os.path.exists(n.replace(model_dir, folder)) and os.path.getsize(n.replace(model_dir, folder)) == os.path.getsize(n) for n in names)
        wait_for(lambda: all(done(i) for i in range(nodes)), 3600, "the BitTorrent swarm")
        return time.time() - started
    finally:
        for process in processes:
            process.kill()
            process.wait()


def plot(results, size, rate_bytes, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    nodes = [r["nodes"] for r in results]
    ideal = size / rate_bytes
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(nodes, [r["manta"]["makespan"] for r in results], "o-", label="manta (peers)")
    left.plot(nodes, [r["hub_only"]["makespan"] for r in results], "s--", label="hub only")
    if all("bittorrent" in r for r in results):
        left.plot(nodes, [r["bittorrent"] for r in results], "^-.", label="aria2c + opentracker")
    left.axhline(ideal, color="grey", lw=0.8, label="S/B")
    left.axhline(1.25 * ideal, color="red", lw=0.8, ls=":", label="target 1.25 S/B")
    left.set_xlabel("agents (N)"); left.set_ylabel("makespan (s)"); left.set_xticks(nodes); left.legend(); left.set_title("Time until the last node has the model")
    right.plot(nodes, [r["manta"]["hub_bytes"] / size for r in results], "o-", label="manta (peers)")
    right.plot(nodes, [r["hub_only"]["hub_bytes"] / size for r in results], "s--", label="hub only")
    right.axhline(1.05, color="red", lw=0.8, ls=":", label="target 1.05 S")
    right.set_xlabel("agents (N)"); right.set_ylabel("hub egress / S"); right.set_xticks(nodes); right.legend(); right.set_title("Bytes the hub sent")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manta", required=True)
    parser.add_argument("--model", required=True, help="folder of the synthetic model (served as bench/model)")
    parser.add_argument("--nodes", default="1,2,4,8")
    parser.add_argument("--rate", default="25MB/s")
    parser.add_argument("--work", default="/var/tmp/manta-bench-peers")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--bittorrent", action="store_true")
    parser.add_argument("--peers-only", action="store_true", help="skip the baselines (for quick checks; writes no results)")
    parser.add_argument("--stagger", type=float, default=0.0, help="seconds between one agent's pull and the next (with --peers-only)")
    parser.add_argument("--slow-rate", help="download rate of the fourth agent instead of --rate, a slow node (with --peers-only)")
    args = parser.parse_args()
    rate_bytes = int(float(re.fullmatch(r"([0-9.]+)MB/s", args.rate)[1]) * 1e6)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(f"{args.work}/hub/bench")
    os.symlink(os.path.abspath(args.model), f"{args.work}/hub/bench/model")
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(args.model) for f in fs)
    results = []
    for nodes in [int(n) for n in args.nodes.split(",")]:
        makespan, served, rss = run_manta(args.manta, args.work, args.model, nodes, args.rate, True, "bench/model", args.stagger, args.slow_rate)
        entry = {"nodes": nodes, "manta": {"makespan": makespan, "hub_bytes": served, "agent_rss_mib": rss}}
        if args.peers_only:
            print(f"N={nodes}: manta {makespan:.1f} s ({makespan * rate_bytes / size:.2f} S/B), hub {served / size:.3f} S, RSS {rss:.0f} MiB", flush=True)
            continue
        makespan, served, rss = run_manta(args.manta, args.work, args.model, nodes, args.rate, False, "bench/model")
        entry["hub_only"] = {"makespan": makespan, "hub_bytes": served, "agent_rss_mib": rss}
        if args.bittorrent:
            entry["bittorrent"] = run_bittorrent(args.work, os.path.abspath(args.model), nodes, rate_bytes)
        results.append(entry)
        m, h = entry["manta"], entry["hub_only"]
        print(f"N={nodes}: manta {m['makespan']:.1f} s ({m['makespan'] * rate_bytes / size:.2f} S/B), hub {m['hub_bytes'] / size:.3f} S, "
              f"RSS {m['agent_rss_mib']:.0f} MiB | hub-only {h['makespan']:.1f} s, hub {h['hub_bytes'] / size:.2f} S"
              + (f" | aria2c {entry['bittorrent']:.1f} s" if args.bittorrent else ""), flush=True)
    if args.peers_only:
        return
    with open(f"{args.out}/results.json", "w") as f:
        json.dump({"size": size, "rate": rate_bytes, "results": results}, f, indent=1)
    plot(results, size, rate_bytes, f"{args.out}/makespan.png")


if __name__ == "__main__":
    main()
