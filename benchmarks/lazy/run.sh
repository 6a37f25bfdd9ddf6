#!/usr/bin/env bash
# Lazy benchmark: time to first tensor through a lazy mount. `manta add` registers the model from a rate-capped
# `manta hub serve`; a fresh `manta mount` (default read-ahead) over an empty store then serves safetensors'
# safe_open + get_tensor of the biggest tensor in the middle of a shard. The ideal is the transfer time of that
# shard's header chunk plus the tensor's chunks at the cap. Target: time to first tensor <= 2x the ideal.
# Usage: benchmarks/lazy/run.sh [runs]   (needs: scripts/make-fixtures.py --synthetic-mib 1024 --out /tmp/bench-fixtures)
# BENCH_SHARDS=1 uses one 1 GiB shard (model-00001-of-00001.safetensors) (scripts/make-fixtures.py --synthetic-mib 1024 --shards 1 --out /tmp/bench-fixtures-1shard,
# with BENCH_FIXTURES=/tmp/bench-fixtures-1shard); MANTA_BIN uses an already built binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
rate="${BENCH_RATE:-200MB/s}"
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
work="${BENCH_WORK:-/var/tmp/manta-bench-lazy}"
if [ -n "${MANTA_BIN:-}" ]; then manta="$MANTA_BIN"; else
    swift build -c release --static-swift-stdlib --product manta >/dev/null  # not every target: MantaTestSupport builds only with tests
    manta="$(swift build -c release --show-bin-path)/manta"
fi
python3 -c "import ml_dtypes, safetensors" 2>/dev/null || pip install -q ml_dtypes safetensors

for mounted in "$work"/mnt-*; do [ -d "$mounted" ] && fusermount3 -u -z "$mounted" 2>/dev/null || true; done
rm -rf "$work"; mkdir -p "$work/hub/bench"
ln -s "$fixtures/synthetic-1024m" "$work/hub/bench/synthetic-1g"
if [ "${BENCH_SHARDS:-2}" = 1 ]; then shard="model-00001-of-00001.safetensors"; else shard="model-00002-of-00002.safetensors"; fi

"$manta" hub serve "$work/hub" --addr 127.0.0.1:0 --max-rate "$rate" >"$work/hub.out" 2>"$work/hub.err" &
hub_pid=$!
mount_pid=""
trap 'kill $hub_pid 2>/dev/null || true; [ -n "$mount_pid" ] && kill $mount_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q HF_ENDPOINT= "$work/hub.out" && break; sleep 0.1; done
endpoint=$(sed -n 's/^HF_ENDPOINT=//p' "$work/hub.out")
export HF_ENDPOINT="$endpoint" HF_HOME="$work/hf-home"
rate_bytes=$(python3 -c "import re,sys; m=re.fullmatch(r'([0-9.]+)([KMG]?)(i?)B?(/s)?', sys.argv[1]); print(int(float(m[1]) * ((1024 if m[3] else 1000) ** ' KMG'.index(m[2] or ' '))))" "$rate")
# The hub hashes a revision's files on first use: do it before timing anything.
curl -sf "$endpoint/api/models/bench/synthetic-1g/tree/main?recursive=true" >/dev/null

echo "hub cap: $rate ($rate_bytes bytes/s), $runs runs, shard $shard of bench/synthetic-1g ($(du -bL "$fixtures/synthetic-1024m/$shard" | cut -f1) bytes)"
results=""
for run in $(seq "$runs"); do
    store="$work/store-$run" mnt="$work/mnt-$run"
    mkdir -p "$mnt"
    "$manta" mount "$mnt" --store "$store" >"$work/mount-$run.log" 2>&1 &
    mount_pid=$!
    for _ in $(seq 150); do mountpoint -q "$mnt" && break; sleep 0.1; done
    add_began=$(date +%s.%N)
    "$manta" add bench/synthetic-1g --store "$store" >/dev/null
    add_seconds=$(echo "$(date +%s.%N) - $add_began" | bc)
    for _ in $(seq 100); do [ -e "$mnt/models/bench/synthetic-1g/$shard" ] && break; sleep 0.05; done
    line=$(python3 benchmarks/lazy/first_tensor.py "$fixtures/synthetic-1024m/$shard" "$mnt/models/bench/synthetic-1g/$shard" "$store" "$rate_bytes")
    echo "run $run: add ${add_seconds}s; $line"
    results+="$line"$'\n'
    kill "$mount_pid"; wait "$mount_pid" 2>/dev/null || true; mount_pid=""
done
printf '%s' "$results" | python3 -c '
import json, statistics, sys
rows = [json.loads(line) for line in sys.stdin if line.strip()]
median = lambda key: statistics.median(row[key] for row in rows)
row = rows[0]
print()
print("| tensor | tensor size | header + tensor chunks | ideal at cap | time to first tensor (median) | ratio (target <= 2) |")
print("|---|---|---|---|---|---|")
print("| %s | %.1f MiB | %.1f MiB | %.3f s | %.3f s | %.2f |" % (row["tensor"], row["tensor_bytes"] / 2**20, row["needed_bytes"] / 2**20, row["ideal_seconds"], median("seconds"), median("ratio")))
'
