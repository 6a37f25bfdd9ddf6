"""Makespan ÷ S/B against N, one line per topology, for the swarm-sim suite's raw rows.
Usage: python3 benchmarks/swarm-sim/plot.py swarm-sim-raw.json OUT.png (needs matplotlib)."""
import json, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(raw_path, out_path):
    with open(raw_path) as file:
        rows = json.load(file)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for axis, name in zip(axes, ("quiet", "churn")):
        for topology in ("line", "tree", "mesh", "automatic"):
            points = sorted((row["nodes"], row["makespan"]) for row in rows
                            if row["topology"] == topology and row["scenario"] == name and row["makespan"] is not None)
            if points:
                axis.plot(*zip(*points), marker="o", label=topology)
        axis.axhline(1.15, color="grey", linestyle="--", linewidth=0.8, label="target 1.15")
        axis.set_xscale("log")
        axis.set_xlabel("nodes")
        axis.set_title(f"{name}: others' makespan ÷ S/B", fontsize=9)
        axis.legend(fontsize=8)
    figure.suptitle("swarm-sim: S = 256 MiB, B = 100 MB/s (simulated)", fontsize=10)
    figure.tight_layout()
    figure.savefig(out_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
