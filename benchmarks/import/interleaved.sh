#!/usr/bin/env bash
# Durable copy against import, interleaved: each round deletes the last round's output and waits 11 s (see
# run.sh on this journal-less ext4), then runs `cp -r` + `sync` and `manta import` in an order that alternates,
# each into a fresh folder after `sync` and a 2 s pause. Prints each round's times and the median of the
# per-round ratios, which moves less than a ratio of medians when the disk's speed drifts during a series.
# Usage: benchmarks/import/interleaved.sh [rounds] [source]   (default 16 rounds of the real model)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-16}"
source="${2:-${BENCH_FIXTURES:-/tmp/bench-fixtures}/real/sentence-transformers/all-MiniLM-L6-v2}"
work="${BENCH_WORK:-/var/tmp/manta-bench-interleaved}"
swift build -c release --static-swift-stdlib --product manta >/dev/null
manta="$(swift build -c release --show-bin-path)/manta"
find "$source" -type f -exec cat {} + >/dev/null

milliseconds() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%d", (e - s) * 1000 }'; }
ratios=()
for round in $(seq "$rounds"); do
    rm -rf "$work"; mkdir -p "$work"; sync; sleep 11
    order="cp import"
    (( round % 2 == 0 )) && order="import cp"
    declare -A took
    for contender in $order; do
        sync; sleep 2
        start=$EPOCHREALTIME
        case $contender in
        cp) cp -r "$source" "$work/copy"; sync ;;
        import) "$manta" import "$source" --repo bench/model --store "$work/store" >/dev/null ;;
        esac
        took[$contender]=$(milliseconds "$start" "$EPOCHREALTIME")
    done
    echo "round $round: cp+sync ${took[cp]} ms, import ${took[import]} ms"
    ratios+=("$(awk -v i="${took[import]}" -v c="${took[cp]}" 'BEGIN { printf "%.3f", i / c }')")
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median of per-round import / cp+sync: %.2fx over %d rounds\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2), NR}'
rm -rf "$work"
