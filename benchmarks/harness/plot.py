"""One PNG per suite: each figure that has a peer, Manta's value beside the peer measured in the same run.
Usage: python3 benchmarks/harness/plot.py RESULTS.json OUT.png (needs matplotlib; benchmarks/run finds one)."""
import json, sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(results_path, out_path):
    with open(results_path) as file:
        results = json.load(file)
    compared = [entry for entry in results["figures"] if entry.get("peer") and entry["peer"].get("value") is not None]
    if not compared:
        return
    figure, axes = plt.subplots(len(compared), 1, figsize=(8, 0.2 + 1.05 * len(compared)), squeeze=False)
    for axis, entry in zip(axes[:, 0], compared):
        peer = entry["peer"]
        labels = ["manta", peer["name"]]
        values = [entry["value"], peer["value"]]
        bars = axis.barh(labels, values, color=["#1f77b4", "#bbbbbb"])
        axis.bar_label(bars, labels=[f"{value:g} {entry['unit']}" for value in values], padding=3, fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0, max(values) * 1.3)
        axis.tick_params(labelsize=8)
        axis.set_xticks([])
        for side in ("top", "right", "bottom"):
            axis.spines[side].set_visible(False)
        mark = {True: " (met)", False: " (not met)"}.get(entry.get("met"), "")
        target = f"; target {entry['target']}{mark}" if entry.get("target") else ""
        carried = f", from {entry['date']}" if entry.get("carried") else ""
        axis.set_title(f"{entry['name']}{target}{carried}", fontsize=8.5, loc="left")
    figure.suptitle(f"{results['suite']}: Manta against the peer measured in the same run", fontsize=10)
    figure.tight_layout()
    figure.savefig(out_path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
