#!/usr/bin/env bash
# Store compression none / zstd / zstd-bytegroup: stored bytes, and import, export and verify times.
# Import pays for compressing (on every chunk lane); export and verify decode on one thread, so their
# difference from `none` is the decoding cost. Times are the min-max of RUNS (default 3) fresh runs.
# Usage: benchmarks/import/compression.sh [model folder ...]
#        (default: the 1 GiB synthetic model and the real model of /tmp/bench-fixtures; MANTA_BIN, BENCH_WORK)
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
work="${BENCH_WORK:-/var/tmp/manta-bench-compression}"
runs="${RUNS:-3}"
manta="${MANTA_BIN:-$(swift build -c release --show-bin-path)/manta}"
if [ $# -eq 0 ]; then set -- "$fixtures/synthetic-1024m" "$fixtures/real/sentence-transformers/all-MiniLM-L6-v2"; fi

# Seconds `$@` takes (output dropped); the page cache is flushed before, outside the timing.
seconds() {
    sync
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f\n", e - s }'
}
range() { sort -n | awk 'NR == 1 { low = $1 } { high = $1 } END { printf(low == high ? "%s s" : "%s-%s s", low, high) }'; }

echo "| model | compression | stored bytes | logical ÷ stored | import | export | verify | chunk files plain / .zst / .zbg |"
echo "|---|---|---|---|---|---|---|---|"
for model in "$@"; do
    find "$model" -type f -exec cat {} + >/dev/null
    for compression in none zstd zstd-bytegroup; do
        : >"$work.import"; : >"$work.export"; : >"$work.verify"
        for _ in $(seq "$runs"); do
            rm -rf "$work"; mkdir -p "$work"
            seconds "$manta" import "$model" --repo bench/model --store "$work/store" --compression "$compression" >>"$work.import"
            seconds "$manta" export bench/model "$work/out" --store "$work/store" >>"$work.export"
            seconds "$manta" verify --store "$work/store" >>"$work.verify"
        done
        usage=$("$manta" du --store "$work/store")
        logical=$(awk '/^logical/ {gsub("[()]", "", $4); print $4}' <<<"$usage")
        stored=$(awk '/^stored/ {gsub("[()]", "", $4); print $4}' <<<"$usage")
        files=$(find "$work/store/chunks" -type f)
        plain=$(grep -cv '\.z' <<<"$files" || true)
        zst=$(grep -c '\.zst$' <<<"$files" || true)
        zbg=$(grep -c '\.zbg$' <<<"$files" || true)
        printf "| %s | %s | %d | %.3fx | %s | %s | %s | %d / %d / %d |\n" "$(basename "$model")" "$compression" "$stored" \
            "$(awk -v l="$logical" -v s="$stored" 'BEGIN { print l / s }')" \
            "$(range <"$work.import")" "$(range <"$work.export")" "$(range <"$work.verify")" "$plain" "$zst" "$zbg"
    done
done
rm -rf "$work" "$work.import" "$work.export" "$work.verify"
