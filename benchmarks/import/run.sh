#!/usr/bin/env bash
# Import benchmark: `manta import` against the floors it must approach, in the same run, on the same files.
#   durable copy   cp -r + sync            (the disk-write floor)
#   hashing        openssl dgst -sha256    (one core, SHA-NI)
#   casync make    chunk + zstd store      (a real content-addressed peer)
# The source is read once first, so every contender starts from the page cache; each destination is fresh,
# and the copy and the import alternate which goes first.
# Usage: benchmarks/import/run.sh [runs]   (needs: scripts/make-fixtures.py --synthetic-mib 1024 --out /tmp/bench-fixtures)
#   BENCH_DATASETS="real" runs only the real model (default "synthetic real"); "fixed" adds the synthetic shards
#   under .bin names (hard links), which the import cuts in fixed blocks, as any format it does not parse.
#   MANTA_BIN uses an already built binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
work="${BENCH_WORK:-/var/tmp/manta-bench-import}"
if [ -n "${MANTA_BIN:-}" ]; then manta="$MANTA_BIN"; else
    swift build -c release --static-swift-stdlib --product manta >/dev/null
    manta="$(swift build -c release --show-bin-path)/manta"
fi
command -v casync >/dev/null || apt-get install -y casync >/dev/null
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null

# seconds (to the microsecond: the real model's runs last about 0.1 s) and peak RSS (KiB) of one command
measure() {
    local report start end; report=$(mktemp)
    start=$EPOCHREALTIME
    /usr/bin/time -o "$report" -f "%M" "$@" >/dev/null 2>&1
    end=$EPOCHREALTIME
    echo "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.4f", e - s }') $(tail -1 "$report")"
    rm -f "$report"
}

# Every write contender starts alike: synced, after a pause, writing to a folder of its own. Nothing is deleted
# during a round: on a journal-less ext4 (these machines' root) a new inode skips every inode freed in the last
# 5-10 s, so deleting one contender's output just before the next charges it to the next (to the one that
# creates more files: an import's ~100 chunk files and folders, against cp's 16 files). Each round starts by
# deleting the last round's output and waiting that out; a large delete also keeps the virtual disk discarding.
slot=0
settle() {
    slot=$((slot + 1))
    sync
    sleep "${BENCH_SETTLE_SECONDS:-2}"
}
new_round() {
    rm -rf "$work"; mkdir -p "$work"
    sync
    sleep "${BENCH_ROUND_SETTLE_SECONDS:-11}"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench_dataset() {
    local name="$1" source="$2"
    local bytes; bytes=$(du -sb "$source" | cut -f1)
    declare -A times
    local rss_import=0 rss_reimport=0
    for run in $(seq "$runs"); do
        new_round
        find "$source" -type f -exec cat {} + >/dev/null
        # The durable copy and the import take turns going first, each after the same settling.
        local order="cp import"
        (( run % 2 == 0 )) && order="import cp"
        for contender in $order; do
            settle
            case $contender in
            cp) t=$(measure bash -c "cp -r '$source' '$work/copy$slot' && sync"); times[cp]+="${t%% *} " ;;
            import)
                t=$(measure bash -c "'$manta' import '$source' --repo bench/model --store '$work/store$slot' && sync"); times[import]+="${t%% *} "
                rss=$(measure "$manta" import "$source" --repo bench/model --store "$work/store$slot"); times[reimport]+="${rss%% *} "
                rss_reimport=${rss##* }
                settle
                rss=$(measure "$manta" import "$source" --repo bench/model --store "$work/store$slot"); rss_import=${rss##* } ;;
            esac
        done
        settle
        t=$(measure bash -c "find '$source' -type f -print0 | xargs -0 openssl dgst -sha256"); times[dgst]+="${t%% *} "
        t=$(measure bash -c "casync make --store='$work/casync$slot.castr' '$work/x$slot.caidx' '$source' && sync"); times[casync]+="${t%% *} "
    done
    local cp dgst casync import reimport
    cp=$(echo ${times[cp]} | tr ' ' '\n' | median)
    dgst=$(echo ${times[dgst]} | tr ' ' '\n' | median)
    casync=$(echo ${times[casync]} | tr ' ' '\n' | median)
    import=$(echo ${times[import]} | tr ' ' '\n' | median)
    reimport=$(echo ${times[reimport]} | tr ' ' '\n' | median)
    awk -v n="$name" -v b="$bytes" -v cp="$cp" -v d="$dgst" -v c="$casync" -v i="$import" -v r="$reimport" -v rss="$rss_import" -v rrss="$rss_reimport" 'BEGIN {
        gib = b / 1073741824
        printf "| %s | %.2f GiB | %.3f s | %.3f s | %.2f s | %.3f s | %.3f s | %.2fx | %.1fx | %.2fx | %d / %d MiB |\n", n, gib, cp, d, c, i, r, i / cp, c / i, r / d, rss / 1024, rrss / 1024
    }'
}

echo "| data | size | cp+sync | openssl dgst | casync make | manta import | re-import | import / cp+sync | casync / import | re-import / dgst | peak RSS import / re-import |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
datasets="${BENCH_DATASETS:-synthetic real}"
[[ " $datasets " == *" synthetic "* ]] && bench_dataset "synthetic BF16, 2 shards" "$fixtures/synthetic-1024m"
if [[ " $datasets " == *" fixed "* ]]; then
    as_bin="$fixtures/synthetic-1024m-as-bin"
    mkdir -p "$as_bin"
    for shard in "$fixtures"/synthetic-1024m/*.safetensors; do ln -f "$shard" "$as_bin/$(basename "$shard" .safetensors).bin"; done
    bench_dataset "synthetic as .bin, fixed blocks" "$as_bin"
fi
[[ " $datasets " == *" real "* ]] && bench_dataset "all-MiniLM-L6-v2 (real)" "$fixtures/real/sentence-transformers/all-MiniLM-L6-v2"
rm -rf "$work"
