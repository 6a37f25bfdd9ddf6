#!/usr/bin/env bash
# How close `manta import` can get to `cp -r` + `sync` on this machine: floor.c does only the work Manta's design
# requires (two SHA-256 passes over every byte: the whole-file hash and the chunk ids; the chunks written past the
# page cache and made durable), without Manta. Each round deletes the last round's output and waits 11 s (see
# run.sh on this journal-less ext4), then runs every contender in an order that reverses each round, each into a
# fresh folder after `sync` and a 2 s pause, timed with the `sync` after it:
#   cp+sync     cp -r, then sync                       (the target's reference)
#   floor       both hashes and the writes             (the least any import of the design can take)
#   sixteen     the same, the chunk ids in AVX-512's sixteen lanes (half a pair's CPU per byte, but no chunk
#               is written until its sixteen are hashed; as the pair where the CPU lacks AVX-512)
#   one-hash    the whole-file hash and the writes     (below the design: no chunk ids)
#   hash-only   both hashes, nothing written           (the CPU floor alone)
#   manta       manta import into a fresh store
# Prints each round's times and, per contender, the median of its per-round ratios to cp+sync.
# Usage: benchmarks/import/floor.sh [rounds] [source]   (default 9 rounds of the real model)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-9}"
source="${2:-${BENCH_FIXTURES:-/tmp/bench-fixtures}/real/sentence-transformers/all-MiniLM-L6-v2}"
work="${BENCH_WORK:-/var/tmp/manta-bench-floor}"
swift build -c release --static-swift-stdlib --product manta >/dev/null
binaries="$(swift build -c release --show-bin-path)"
manta="$binaries/manta"
floor="$binaries/import-floor"
# clang, as SwiftPM builds CSHA256: gcc -O2 builds its SHA-NI pair at less than half the speed (RESULTS.md, Import).
clang -O2 -pthread -I Sources/CSHA256/include -I Sources/CSHA256 benchmarks/import/floor.c Sources/CSHA256/*.c -o "$floor"
find "$source" -type f -exec cat {} + >/dev/null

contenders=(cp+sync floor sixteen one-hash hash-only manta)
run() {
    case $1 in
    cp+sync) cp -r "$source" "$2" ;;
    floor) "$floor" "$source" "$2" ;;
    sixteen) "$floor" "$source" "$2" --sixteen ;;
    one-hash) "$floor" "$source" "$2" --no-ids ;;
    hash-only) "$floor" "$source" "$2" --no-writes ;;
    manta) "$manta" import "$source" --repo bench/model --store "$2" >/dev/null ;;
    esac
    sync
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.2f", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
declare -A ratios
for round in $(seq "$rounds"); do
    rm -rf "$work"; mkdir -p "$work"; sync; sleep 11
    order=("${contenders[@]}")
    if (( round % 2 == 0 )); then order=(); for ((i = ${#contenders[@]} - 1; i >= 0; i--)); do order+=("${contenders[$i]}"); done; fi
    declare -A took
    slot=0
    for contender in "${order[@]}"; do
        slot=$((slot + 1)); sync; sleep 2
        start=$EPOCHREALTIME
        run "$contender" "$work/out$slot"
        took[$contender]=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%d", (e - s) * 1000 }')
    done
    line="round $round:"
    for contender in "${contenders[@]}"; do
        line+=" $contender ${took[$contender]} ms"
        ratios[$contender]+="$(awk -v t="${took[$contender]}" -v c="${took[cp+sync]}" 'BEGIN { printf "%.3f", t / c }') "
    done
    echo "$line"
done
summary="median of per-round ratios to cp+sync over $rounds rounds:"
for contender in "${contenders[@]:1}"; do summary+=" $contender $(tr ' ' '\n' <<<"${ratios[$contender]}" | grep . | median)x"; done
echo "$summary"
rm -rf "$work"
