#!/usr/bin/env python3
"""A swarm of real agents, each in its own network namespace (issue 27, item 2).

One bridge in the root namespace; the hub (`manta hub serve`) and every agent (`manta agent --peers <all others>`)
sit in their own namespace behind a veth pair to that bridge. Every link is shaped in both directions with
`tc netem`: a one-way delay of 1-5 ms (drawn per node, fixed seed) and a rate cap B; the hub's link is capped
at B as well, and the agents have no rate caps of their own. Every agent is told to pull the same S-byte
model (`manta pull --store <its store>`, which hands the pull to the agent over its unix socket).

Scenarios (each a fresh swarm): `base` (every node starts at once), `slow` (one node's link at B/4),
`kill` (one agent SIGKILLed at 0.4 S/B), `late` (a quarter of the nodes start pulling at 0.5 S/B).
Per run: each node's finish time, the makespan, the hub's egress (its /metrics, payload, and its veth's
wire bytes), each node's upload (its veth), the machine's CPU use (/proc/stat, whole run and peak second).

Every namespace, veth, bridge and process this script makes is removed on exit, on failure and on
SIGINT/SIGTERM, and any left by an earlier run is removed first. Writes <name>.json and <name>.png to --out.
"""
import argparse, json, os, random, re, shutil, signal, subprocess, sys, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from loopback import wait_for  # noqa: E402

PREFIX = "msw"                     # every namespace and link this script makes starts with it
BRIDGE = f"{PREFIX}br0"
SUBNET = "10.77"
HUB_ADDRESS = f"{SUBNET}.0.2"
PORT = 7480
TOKEN = "swarm-bench-token"
# The swarm runs ahead of other work on a shared machine (builds), so its timings are its own; its CPU use is
# bounded by the link caps and recorded with each run.
NICE = ["nice", "-n", "-10"]
NETEM = False                      # whether links get netem (delay and rate) or tbf (rate only); probed in main
REPO = "bench/model"


def netem_available():
    probe = f"{PREFIX}-probe"
    sh("ip", "netns", "add", probe)
    try:
        return subprocess.run(["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    finally:
        sh("ip", "netns", "del", probe)


def sh(*command, check=True):
    return subprocess.run(command, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout


def node_address(index):
    return f"{SUBNET}.{1 + index // 200}.{10 + index % 200}"


class Network:
    """Namespaces, veths and their shaping; `remove` undoes all of it, including leftovers of earlier runs."""

    def __init__(self):
        self.namespaces = []

    @staticmethod
    def remove():
        for namespace in sh("ip", "netns", "list", check=False).split("\n"):
            name = namespace.split(" ")[0]
            if name.startswith(f"{PREFIX}-"):
                for pid in sh("ip", "netns", "pids", name, check=False).split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                sh("ip", "netns", "del", name, check=False)
        for line in sh("ip", "-o", "link", "show", check=False).split("\n"):
            match = re.match(rf"\d+: ({PREFIX}[^:@ ]*)", line)
            if match:
                sh("ip", "link", "del", match[1], check=False)

    def create_bridge(self):
        sh("ip", "link", "add", BRIDGE, "type", "bridge")
        sh("ip", "addr", "add", f"{SUBNET}.0.1/16", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")

    def add_node(self, name, address, rate_bytes, delay_ms):
        """A namespace `msw-<name>` whose eth0 reaches the bridge through veth `mswv<name>`, both ends shaped."""
        namespace, outside = f"{PREFIX}-{name}", f"{PREFIX}v{name}"
        sh("ip", "netns", "add", namespace)
        self.namespaces.append(namespace)
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", f"{PREFIX}p{name}")
        sh("ip", "link", "set", f"{PREFIX}p{name}", "netns", namespace)
        inside = ["ip", "netns", "exec", namespace]
        sh(*inside, "ip", "link", "set", f"{PREFIX}p{name}", "name", "eth0")
        sh(*inside, "ip", "addr", "add", f"{address}/16", "dev", "eth0")
        sh(*inside, "ip", "link", "set", "lo", "up")
        sh(*inside, "ip", "link", "set", "eth0", "up")
        sh("ip", "link", "set", outside, "master", BRIDGE)
        sh("ip", "link", "set", outside, "up")
        self.shape(name, rate_bytes, delay_ms)
        return namespace

    @staticmethod
    def shape(name, rate_bytes, delay_ms):
        """The node's upload on its eth0, its download on the bridge side: netem (delay and rate) where the kernel
        has it, else tbf (rate only; this VM's kernel is built without CONFIG_NET_SCH_NETEM)."""
        for command in (["ip", "netns", "exec", f"{PREFIX}-{name}", "tc"], ["tc"]):
            device = "eth0" if len(command) > 1 else f"{PREFIX}v{name}"
            if NETEM:
                qdisc = ["netem", "delay", f"{delay_ms}ms", "rate", f"{int(rate_bytes * 8)}bit", "limit", "10000"]
            else:   # a burst above the largest GSO packet, a queue of 100 ms
                qdisc = ["tbf", "rate", f"{int(rate_bytes * 8)}bit", "burst", "131072", "latency", "100ms"]
            sh(*command, "qdisc", "replace", "dev", device, "root", *qdisc)

    @staticmethod
    def counters(name):
        """(bytes the node sent, bytes it received) on its link, read on the bridge side of its veth."""
        base = f"/sys/class/net/{PREFIX}v{name}/statistics"
        return int(open(f"{base}/rx_bytes").read()), int(open(f"{base}/tx_bytes").read())


class CPU:
    """Busy share of all CPUs from /proc/stat, over the whole run and the busiest second, and the CPU seconds
    the swarm's own processes (hub and agents) used, so other work on the machine can be told apart."""

    def __init__(self, pids):
        self.first = self.last = self.read()
        self.peak = 0.0
        self.pids = pids
        self.process_first = {pid: self.process_seconds(pid) for pid in pids}
        self.process_last = dict(self.process_first)

    @staticmethod
    def process_seconds(pid):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return None

    def swarm_seconds(self):
        return sum(self.process_last[pid] - self.process_first[pid] for pid in self.pids if self.process_first[pid] is not None)

    @staticmethod
    def read():
        fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)   # busy (all but idle and iowait), total

    def sample(self):
        now = self.read()
        if now[1] - self.last[1] >= 100:   # about one second of jiffies on one CPU
            self.peak = max(self.peak, (now[0] - self.last[0]) / (now[1] - self.last[1]))
            self.last = now
            for pid in self.pids:
                seconds = self.process_seconds(pid)
                if seconds is not None:
                    self.process_last[pid] = seconds

    def average(self):
        now = self.read()
        return (now[0] - self.first[0]) / max(1, now[1] - self.first[1])


def hub_served_bytes():
    text = urllib.request.urlopen(f"http://{HUB_ADDRESS}:{PORT}/metrics", timeout=10).read().decode()
    return int(re.search(r"^manta_hub_served_bytes (\d+)$", text, re.M)[1])


def run_swarm(args, scenario, nodes, size, rate_bytes):
    """One fresh swarm. Returns the run's record."""
    ideal = size / rate_bytes
    rng = random.Random(args.seed + nodes)
    delays = [rng.randint(1, 5) for _ in range(nodes)]
    slow = nodes // 4 if scenario == "slow" else None
    killed = nodes // 2 if scenario == "kill" else None
    late = set(range(nodes - max(1, nodes // 4), nodes)) if scenario == "late" else set()
    work = args.work
    network = Network()
    processes = []
    try:
        Network.remove()
        shutil.rmtree(f"{work}/run", ignore_errors=True)
        os.makedirs(f"{work}/run/hub/bench")
        os.symlink(os.path.abspath(args.model), f"{work}/run/hub/bench/model")
        with open(f"{work}/run/token", "w") as f:
            f.write(TOKEN + "\n")
        network.create_bridge()
        hub_namespace = network.add_node("hub", HUB_ADDRESS, rate_bytes, 1)
        for index in range(nodes):
            node_rate = rate_bytes / 4 if index == slow else rate_bytes
            network.add_node(f"n{index}", node_address(index), node_rate, delays[index])
        hub_log = open(f"{work}/run/hub.out", "w+")
        processes.append(subprocess.Popen(NICE + ["ip", "netns", "exec", hub_namespace, args.manta, "hub", "serve", f"{work}/run/hub", "--addr", f"{HUB_ADDRESS}:{PORT}"],
                                          stdout=hub_log, stderr=subprocess.STDOUT))
        wait_for(lambda: "HF_ENDPOINT=" in open(f"{work}/run/hub.out").read(), 30, "the hub")
        # The hub hashes the files on the first listing; keep that out of the timed part.
        urllib.request.urlopen(f"http://{HUB_ADDRESS}:{PORT}/api/models/{REPO}/tree/main?recursive=true", timeout=300).read()
        agents = []
        for index in range(nodes):
            peers = ",".join(f"{node_address(i)}:{PORT}" for i in range(nodes) if i != index)
            command = NICE + ["ip", "netns", "exec", f"{PREFIX}-n{index}", args.manta, "agent", "--store", f"{work}/run/node{index}",
                       "--listen", f"{node_address(index)}:{PORT}", "--peers", peers, "--endpoint", f"http://{HUB_ADDRESS}:{PORT}",
                       "--token-file", f"{work}/run/token"]
            agents.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(f"{work}/run/agent{index}.err", "w")))
        processes += agents
        for index in range(nodes):
            wait_for(lambda: os.path.exists(f"{work}/run/node{index}/agent.sock"), 60, f"agent {index}")
        before = {index: Network.counters(f"n{index}") for index in range(nodes)}
        hub_wire_before = Network.counters("hub")[0]
        hub_before = hub_served_bytes()
        cpu = CPU([process.pid for process in processes])
        started = time.time()
        pulls, started_at, finished, failed = {}, {}, {}, {}

        def start_pull(index):
            started_at[index] = round(time.time() - started, 3)
            pulls[index] = subprocess.Popen(NICE + [args.manta, "pull", REPO, "--store", f"{work}/run/node{index}"], stdout=subprocess.DEVNULL,
                                            stderr=open(f"{work}/run/pull{index}.err", "w"))
        for index in range(nodes):
            if index not in late:
                start_pull(index)
        late_at, kill_at = 0.5 * ideal, 0.4 * ideal
        deadline = started + args.timeout_factor * ideal + 60
        while len(finished) + len(failed) < nodes:
            now = time.time() - started
            if time.time() > deadline:
                print(f"{scenario:5} N={nodes:3}: not done after {now:.0f} s; finished {sorted(finished.values())}", flush=True)
                return {"scenario": scenario, "nodes": nodes, "timed_out_after": round(now, 1), "slow_node": slow, "killed_node": killed,
                        "killed_at": failed.get(killed) if killed is not None else None, "late_nodes": sorted(late),
                        "started_at": started_at, "finished_at": finished, "hub_bytes": hub_served_bytes() - hub_before}
            if late and now >= late_at and not (late & pulls.keys()):
                for index in sorted(late):
                    start_pull(index)
            if killed is not None and now >= kill_at and agents[killed].returncode is None and killed not in failed:
                cpu.sample()
                agents[killed].kill()
                agents[killed].wait()
                failed[killed] = round(now, 3)
            for index, pull in pulls.items():
                if index in finished or index in failed or pull.poll() is None:
                    continue
                if pull.returncode == 0:
                    finished[index] = round(time.time() - started, 3)
                else:
                    raise RuntimeError(f"{scenario} N={nodes}: node {index}'s pull failed: {open(f'{work}/run/pull{index}.err').read()[-800:]}")
            cpu.sample()
            time.sleep(0.05)
        cpu.sample()
        elapsed = time.time() - started
        hub_bytes = hub_served_bytes() - hub_before
        hub_wire = Network.counters("hub")[0] - hub_wire_before
        uploads = [Network.counters(f"n{i}")[0] - before[i][0] for i in range(nodes)]
        on_time = [finished[i] for i in range(nodes) if i in finished and i not in late and i != slow]
        record = {
            "scenario": scenario, "nodes": nodes, "delays_ms": delays if NETEM else None,
            "slow_node": slow, "killed_node": killed, "killed_at": failed.get(killed) if killed is not None else None,
            "late_nodes": sorted(late), "started_at": started_at, "finished_at": finished,
            "makespan": max(finished.values()), "makespan_over_ideal": max(finished.values()) / ideal,
            "others_makespan": max(on_time), "others_over_ideal": max(on_time) / ideal,
            "late_durations": {i: round(finished[i] - started_at[i], 3) for i in sorted(late)},
            "hub_bytes": hub_bytes, "hub_over_size": hub_bytes / size, "hub_wire_bytes": hub_wire, "hub_wire_over_size": hub_wire / size,
            "upload_bytes": uploads, "upload_over_size": [round(u / size, 3) for u in uploads],
            "cpu_average": round(cpu.average(), 3), "cpu_peak_second": round(cpu.peak, 3),
            "swarm_cpu_seconds": round(cpu.swarm_seconds(), 1), "swarm_cpu_share": round(cpu.swarm_seconds() / elapsed / os.cpu_count(), 3),
        }
        print(f"{scenario:5} N={nodes:3}: makespan {record['makespan']:.1f} s = {record['makespan_over_ideal']:.2f} S/B, "
              f"others {record['others_over_ideal']:.2f} S/B, hub {record['hub_over_size']:.3f} S (wire {record['hub_wire_over_size']:.3f} S), "
              f"max upload {max(uploads) / size:.2f} S, CPU {record['cpu_average']:.0%} (peak {record['cpu_peak_second']:.0%}, swarm {record['swarm_cpu_share']:.0%}); "
              f"finish times {sorted(finished.values())}", flush=True)
        return record
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        stop_by = time.time() + 15
        for process in processes:
            try:
                process.wait(timeout=max(0.1, stop_by - time.time()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        logs = f"{work}/logs-{scenario}-{nodes}"
        shutil.rmtree(logs, ignore_errors=True)
        if os.path.isdir(f"{work}/run"):
            shutil.copytree(f"{work}/run", logs, ignore=lambda folder, names: [n for n in names if n.startswith("node") or n == "hub"])
        Network.remove()


def plot(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    runs = result["runs"]
    ideal = result["size"] / result["rate"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    runs = [r for r in runs if "timed_out_after" not in r]   # listed in the JSON, not plotted
    labels = [f"{r['scenario']}\nN={r['nodes']}" for r in runs]
    for x, run in enumerate(runs):
        times = sorted(run["finished_at"].values())
        left.scatter([x] * len(times), [t / ideal for t in times], s=10, color="tab:blue", alpha=0.6)
        left.scatter([x], [run["others_over_ideal"]], marker="_", s=300, color="tab:red")
    left.axhline(1.0, color="grey", lw=0.8, label="S/B")
    left.axhline(1.15, color="red", lw=0.8, ls=":", label="target 1.15 S/B")
    left.set_xticks(range(len(runs))); left.set_xticklabels(labels, fontsize=8)
    left.set_ylabel("finish time ÷ (S/B)"); left.legend(fontsize=8)
    left.set_title("Each node's finish (dots); the on-time nodes' last (red)")
    width = 0.4
    right.bar([x - width / 2 for x in range(len(runs))], [r["hub_over_size"] for r in runs], width, label="hub egress ÷ S")
    right.bar([x + width / 2 for x in range(len(runs))], [max(r["upload_over_size"]) for r in runs], width, label="largest node upload ÷ S")
    right.axhline(1.05, color="red", lw=0.8, ls=":", label="hub target 1.05 S")
    right.set_xticks(range(len(runs))); right.set_xticklabels(labels, fontsize=8); right.legend(fontsize=8)
    right.set_title("Bytes sent")
    figure.suptitle(f"{result['size'] / 2**20:.0f} MiB model, every link B = {result['rate'] / 1e6:g} MB/s, {'1-5 ms one-way delay' if result['shaping'] == 'netem' else 'tbf, no added delay'}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manta", required=True)
    parser.add_argument("--model", required=True, help="folder of the synthetic model (served as bench/model)")
    parser.add_argument("--runs", default="base:16,base:32,slow:16,kill:16,late:16", help="scenario:N, comma-separated")
    parser.add_argument("--rate", default="5MB/s", help="B, every link's cap, in MB/s")
    parser.add_argument("--work", default="/var/tmp/manta-swarm")
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--seed", type=int, default=27)
    parser.add_argument("--timeout-factor", type=float, default=4.0, help="a run fails after this many S/B (plus 60 s)")
    parser.add_argument("--log-level", default="notice", help="the agents' MANTA_LOG_LEVEL (their logs: <work>/logs-<scenario>-<N>/)")
    parser.add_argument("--name", default="results", help="writes <out>/<name>.json and <out>/<name>.png")
    parser.add_argument("--no-write", action="store_true", help="print only (quick checks)")
    args = parser.parse_args()
    os.environ["MANTA_LOG_LEVEL"] = args.log_level
    if os.geteuid() != 0:
        sys.exit("needs root (network namespaces)")
    global NETEM
    Network.remove()
    NETEM = netem_available()
    if not NETEM:
        print("this kernel has no netem: links are capped with tbf, with no added delay", flush=True)
    rate_bytes = int(float(re.fullmatch(r"([0-9.]+)MB/s", args.rate)[1]) * 1e6)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(args.model) for f in fs)

    def stop(signum, _frame):
        raise SystemExit(f"stopped by signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runs = []
    try:
        for item in args.runs.split(","):
            scenario, nodes = item.split(":")
            runs.append(run_swarm(args, scenario, int(nodes), size, rate_bytes))
    finally:
        Network.remove()
        shutil.rmtree(f"{args.work}/run", ignore_errors=True)
    if args.no_write:
        return
    os.makedirs(args.out, exist_ok=True)
    result = {"size": size, "rate": rate_bytes, "shaping": "netem" if NETEM else "tbf (no delay)", "ideal_seconds": size / rate_bytes, "command": " ".join(sys.argv), "runs": runs}
    with open(f"{args.out}/{args.name}.json", "w") as f:
        json.dump(result, f, indent=1)
    plot(result, f"{args.out}/{args.name}.png")


if __name__ == "__main__":
    main()
