"""What the benchmarks that start hubs and agents on this machine share: a free port, a bounded wait, the hub's egress."""
import re, socket, sys, time, urllib.request


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def hub_bytes(endpoint):
    """Bytes of files the hub at `endpoint` has served (its /metrics)."""
    text = urllib.request.urlopen(f"{endpoint}/metrics", timeout=10).read().decode()
    return int(re.search(r"^manta_hub_served_bytes (\d+)$", text, re.M)[1])
