#!/usr/bin/env bash
# Chunk-size sweep: import time, chunk count, and the bytes a header-edited copy adds, for 1, 2, 4, 8, 16 MiB.
# Usage: benchmarks/import/chunk-size-sweep.sh   (fixtures as for run.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
work="${BENCH_WORK:-/var/tmp/manta-bench-sweep}"
swift build -c release --static-swift-stdlib --product manta >/dev/null
manta="$(swift build -c release --show-bin-path)/manta"
find "$fixtures/synthetic-1024m" "$fixtures/synthetic-1024m-edited" -type f -exec cat {} + >/dev/null

echo "| chunk size | import 1 GiB | chunks | chunks added by the header-edited copy | bytes added by it | manifest size |"
echo "|---|---|---|---|---|---|"
for size in 1 2 4 8 16; do
    rm -rf "$work"; mkdir -p "$work"; sync
    start=$(date +%s.%N)
    "$manta" import "$fixtures/synthetic-1024m" --repo bench/a --store "$work" --chunk-size "${size}MiB" >/dev/null
    sync
    end=$(date +%s.%N)
    chunks=$("$manta" du --store "$work" | awk '/^unique/ {print $(NF-1)}')
    before=$("$manta" du --store "$work" | awk '/^stored/ {gsub("[()]", "", $4); print $4}')
    "$manta" import "$fixtures/synthetic-1024m-edited" --repo bench/b --store "$work" >/dev/null
    after=$("$manta" du --store "$work" | awk '/^stored/ {gsub("[()]", "", $4); print $4}')
    chunks_after=$("$manta" du --store "$work" | awk '/^unique/ {print $(NF-1)}')
    # The first import's manifest, through its reference: the folder holds both manifests in hash order.
    digest=$(sed 's/^sha256://' "$work/refs/bench/a/main")
    manifest=$(stat -c %s "$work/manifests/$digest.json")
    awk -v s="$size" -v start="$start" -v end="$end" -v c="$chunks" -v n="$((chunks_after - chunks))" -v d="$((after - before))" -v m="$manifest" \
        'BEGIN { printf "| %d MiB | %.2f s | %d | %d | %d B | %d B |\n", s, end - start, c, n, d, m }'
done
rm -rf "$work"
