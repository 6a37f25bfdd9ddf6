#!/usr/bin/env bash
# N-agent distribution benchmark (see run.py): N = 1, 2, 4, 8 agents on loopback, hub and every agent
# capped at B (default 25MB/s), a synthetic S = 256 MiB model. Writes results.json and makespan.png here.
# Usage: benchmarks/peers/run.sh [--bittorrent] [--nodes 1,2,4,8] [--rate 25MB/s]
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
python3 scripts/make-fixtures.py --synthetic-mib 256 --out "$fixtures" >/dev/null
python3 -c "import matplotlib" 2>/dev/null || pip install -q matplotlib
if [[ " $* " == *" --bittorrent "* ]]; then
    command -v aria2c >/dev/null && command -v opentracker >/dev/null && command -v mktorrent >/dev/null \
        || apt-get install -y aria2 opentracker mktorrent >/dev/null
fi
swift build -c release --static-swift-stdlib --product manta >/dev/null  # not every target: MantaTestSupport builds only with tests
python3 benchmarks/peers/run.py --manta "$(swift build -c release --show-bin-path)/manta" --model "$fixtures/synthetic-256m" "$@"
