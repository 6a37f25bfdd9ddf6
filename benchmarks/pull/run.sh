#!/usr/bin/env bash
# Pull benchmark: `manta pull` from a rate-capped `manta hub serve`, against the same downloads made by
#   snapshot_download   huggingface_hub.snapshot_download (its default 8 workers)
#   aria2c -x8          aria2c -x8 -s8 over the same resolve URLs (list from the hub's tree API)
# The hub runs on this machine with --max-rate (default 200MB/s = 200e6 bytes/s); every contender starts
# from an empty destination; the hub hashes its files once before the first timed run.
# Usage: benchmarks/pull/run.sh [runs]   (needs: scripts/make-fixtures.py --synthetic-mib 1024 --out /tmp/bench-fixtures)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
rate="${BENCH_RATE:-200MB/s}"
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
work="${BENCH_WORK:-/var/tmp/manta-bench-pull}"
swift build -c release --static-swift-stdlib --product manta >/dev/null  # not every target: MantaTestSupport builds only with tests
manta="$(swift build -c release --show-bin-path)/manta"
command -v aria2c >/dev/null || apt-get install -y aria2 >/dev/null
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
python3 -c "import huggingface_hub" 2>/dev/null || pip install -q huggingface_hub

rm -rf "$work"; mkdir -p "$work/hub/bench" "$work/hub/sentence-transformers"
ln -s "$fixtures/synthetic-1024m" "$work/hub/bench/synthetic-1g"
ln -s "$fixtures/real/sentence-transformers/all-MiniLM-L6-v2" "$work/hub/sentence-transformers/all-MiniLM-L6-v2"

"$manta" hub serve "$work/hub" --addr 127.0.0.1:0 --max-rate "$rate" >"$work/hub.out" 2>"$work/hub.err" &
hub_pid=$!
trap 'kill $hub_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q HF_ENDPOINT= "$work/hub.out" && break; sleep 0.1; done
endpoint=$(sed -n 's/^HF_ENDPOINT=//p' "$work/hub.out")
export HF_ENDPOINT="$endpoint" HF_HOME="$work/hf-home" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1 HF_HUB_ENABLE_HF_TRANSFER=0
rate_bytes=$(python3 -c "import re,sys; m=re.fullmatch(r'([0-9.]+)([KMG]?)(i?)B?(/s)?', sys.argv[1]); print(int(float(m[1]) * ((1024 if m[3] else 1000) ** ' KMG'.index(m[2] or ' '))))" "$rate")

# seconds and peak RSS (KiB) of one command
measure() {
    /usr/bin/time -o "$work/time" -f "%e %M" "$@" >/dev/null 2>"$work/last.err" || { echo "failed: $* ($(tail -1 "$work/last.err"))" >&2; exit 1; }
    cat "$work/time"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_dataset() {
    local name="$1" repo="$2"
    local bytes; bytes=$(du -sbL "$work/hub/$repo" | cut -f1)
    # The hub hashes a revision's files on first use: do it before timing anything.
    curl -sf "$endpoint/api/models/$repo/tree/main?recursive=true" >/dev/null
    curl -sf "$endpoint/api/models/$repo/tree/main?recursive=true" | python3 -c "
import json, sys
for entry in json.load(sys.stdin):
    if entry['type'] == 'file':
        print('$endpoint/$repo/resolve/main/' + entry['path']); print('  out=' + entry['path'])" >"$work/aria2.list"
    local manta_times="" hf_times="" aria_times="" rss=0
    for _ in $(seq "$runs"); do
        rm -rf "$work/store"; sync
        t=$(measure "$manta" pull "$repo" --store "$work/store"); manta_times+="${t%% *} "; rss=${t##* }
        rm -rf "$work/store" "$work/hf"; sync
        t=$(measure python3 -c "from huggingface_hub import snapshot_download; snapshot_download('$repo', local_dir='$work/hf')"); hf_times+="${t%% *} "
        rm -rf "$work/hf" "$work/aria2"; sync
        t=$(measure aria2c -x8 -s8 -k1M --file-allocation=none --allow-overwrite=true --auto-file-renaming=false -q -d "$work/aria2" -i "$work/aria2.list"); aria_times+="${t%% *} "
        rm -rf "$work/aria2"; sync
    done
    local m h a
    m=$(echo $manta_times | tr ' ' '\n' | median)
    h=$(echo $hf_times | tr ' ' '\n' | median)
    a=$(echo $aria_times | tr ' ' '\n' | median)
    awk -v n="$name" -v b="$bytes" -v r="$rate_bytes" -v m="$m" -v h="$h" -v a="$a" -v rss="$rss" 'BEGIN {
        floor = b / r
        printf "| %s | %.0f MiB | %.2f s | %.2f s (%.2f) | %.2f s (%.2f) | %.2f s (%.2f) | %.2fx | %.2fx | %d MiB |\n", n, b / 1048576, floor, m, floor / m, h, floor / h, a, floor / a, h / m, a / m, rss / 1024
    }'
}

echo "hub cap: $rate ($rate_bytes bytes/s), $runs runs, median"
echo
echo "| data | size | size / cap | manta pull (of cap) | snapshot_download (of cap) | aria2c -x8 (of cap) | snapshot_download / manta | aria2c / manta | manta peak RSS |"
echo "|---|---|---|---|---|---|---|---|---|"
bench_dataset "synthetic BF16, 2 shards" "bench/synthetic-1g"
bench_dataset "all-MiniLM-L6-v2 (real model)" "sentence-transformers/all-MiniLM-L6-v2"
