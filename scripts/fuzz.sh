#!/usr/bin/env bash
# Builds the libFuzzer targets (docs/fuzzing.md) in .build-fuzz and runs each for a bounded number of inputs or
# seconds, from the seed corpus (Fuzz/seeds.py), the saved regressions (Fuzz/Regressions) and what earlier runs
# kept (.build-fuzz/fuzz/corpus). Fails on the first crash or broken invariant and says how to replay it.
#
# Usage: scripts/fuzz.sh [--runs N] [--seconds S] [TARGET...]
#   --runs N      inputs per target (default 100000)
#   --seconds S   also stop each target after S seconds
#   TARGET        range manifest swarm safetensors gguf hub-json (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=100000
seconds=0
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=(range manifest swarm safetensors gguf hub-json)

# Its own scratch path: the fuzzer build instruments every module and must not replace the normal build's objects.
MANTA_FUZZ=1 swift build -c release --scratch-path .build-fuzz --sanitize fuzzer --product manta-fuzz
binary=.build-fuzz/release/manta-fuzz
work=.build-fuzz/fuzz
rm -rf "$work/seeds"
python3 Fuzz/seeds.py "$work/seeds"
mkdir -p "$work/crashes" "$work/logs"

for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"
    mkdir -p "$corpus"
    inputs=("$corpus" "$work/seeds/$target")
    [ -d "Fuzz/Regressions/$target" ] && inputs+=("Fuzz/Regressions/$target")
    log="$work/logs/$target.log"
    # Value profiles turn numeric comparisons (magic numbers, bounds) into coverage; the dictionary gives the
    # JSON targets the keys their decoders look for.
    options=(-runs="$runs" -max_total_time="$seconds" -use_value_profile=1 -dict=Fuzz/manta.dict -max_len=16384
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/crashes/$target-")
    started=$SECONDS
    # Swift's own backtracer would take the trap's signal and exit before libFuzzer saves the input.
    if ! MANTA_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no "$binary" "${options[@]}" "${inputs[@]}" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "fuzz.sh: $target failed (log: $log). Replay the input libFuzzer wrote (\"Test unit written to\") with" >&2
        echo "  MANTA_FUZZ_TARGET=$target $binary <input>    (Swift's backtrace names the trap and the line)" >&2
        echo "then copy it to Fuzz/Regressions/$target/ so every later run and the tests replay it." >&2
        exit 1
    fi
    done_line=$(grep -E '^#[0-9]+\s+DONE' "$log" | tail -n 1 || true)
    echo "fuzz $target: $(grep -m1 -oE 'stat::number_of_executed_units: [0-9]+' "$log" | grep -oE '[0-9]+$') inputs in $((SECONDS - started)) s; ${done_line#*DONE   }"
done
