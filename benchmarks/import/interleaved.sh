#!/usr/bin/env bash
# Durable copy against import, interleaved: each round deletes the last round's output and waits 11 s (see
# run.sh on this journal-less ext4), then runs `cp -r` + `sync` and `manta import` in an order that alternates,
# each into a fresh folder after `sync` and a 2 s pause. Prints each round's times and the median of the
# per-round ratios, which moves less than a ratio of medians when the disk's speed drifts during a series.
# Beside each time: the CPU time the whole machine spent (user, system, interrupts) and the time its virtual
# CPUs were runnable but not run by the host (steal), from /proc/stat, in its 10 ms ticks: system-wide, so
# anything else running shows up too.
# Usage: benchmarks/import/interleaved.sh [rounds] [source]   (default 16 rounds of the real model)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-16}"
source="${2:-${BENCH_FIXTURES:-/tmp/bench-fixtures}/real/sentence-transformers/all-MiniLM-L6-v2}"
work="${BENCH_WORK:-/var/tmp/manta-bench-interleaved}"
swift build -c release --static-swift-stdlib --product manta >/dev/null
manta="$(swift build -c release --show-bin-path)/manta"
find "$source" -type f -exec cat {} + >/dev/null
tick_ms=$((1000 / $(getconf CLK_TCK)))

milliseconds() { awk -v s="$1" -v e="$2" 'BEGIN { printf "%d", (e - s) * 1000 }'; }
# busy and steal ticks of all CPUs so far
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }
median() { sort -n | awk -v format="${1:-%.2f}" '{a[NR]=$1} END {printf format, (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
ratios=()
declare -A steals
for round in $(seq "$rounds"); do
    rm -rf "$work"; mkdir -p "$work"; sync; sleep 11
    order="cp import"
    (( round % 2 == 0 )) && order="import cp"
    declare -A took busy stolen
    for contender in $order; do
        sync; sleep 2
        read -r busy_before steal_before < <(cpu_ticks)
        start=$EPOCHREALTIME
        case $contender in
        cp) cp -r "$source" "$work/copy"; sync ;;
        import) "$manta" import "$source" --repo bench/model --store "$work/store" >/dev/null ;;
        esac
        took[$contender]=$(milliseconds "$start" "$EPOCHREALTIME")
        read -r busy_after steal_after < <(cpu_ticks)
        busy[$contender]=$(( (busy_after - busy_before) * tick_ms ))
        stolen[$contender]=$(( (steal_after - steal_before) * tick_ms ))
        steals[$contender]+="${stolen[$contender]} "
    done
    echo "round $round: cp+sync ${took[cp]} ms (cpu ${busy[cp]}, steal ${stolen[cp]}), import ${took[import]} ms (cpu ${busy[import]}, steal ${stolen[import]})"
    ratios+=("$(awk -v i="${took[import]}" -v c="${took[cp]}" 'BEGIN { printf "%.3f", i / c }')")
done
echo "median of per-round import / cp+sync: $(printf '%s\n' "${ratios[@]}" | median)x over ${#ratios[@]} rounds"
echo "median steal: cp+sync $(tr ' ' '\n' <<<"${steals[cp]}" | grep . | median %d) ms, import $(tr ' ' '\n' <<<"${steals[import]}" | grep . | median %d) ms"
rm -rf "$work"
