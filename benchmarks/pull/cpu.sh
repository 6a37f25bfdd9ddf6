#!/usr/bin/env bash
# CPU seconds per GB pulled from an uncapped local hub and from a peer, against the floor (cpu.py says what each
# figure is), and where a pull's CPU goes (perf). Writes benchmarks/results/pull-cpu.json.
# Usage: benchmarks/pull/cpu.sh [--runs 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
fixtures="${BENCH_FIXTURES:-/tmp/bench-fixtures}"
python3 scripts/make-fixtures.py --synthetic-mib 1024 --out "$fixtures" >/dev/null
command -v perf >/dev/null || apt-get install -y linux-perf >/dev/null
swift build -c release --static-swift-stdlib --product manta-net >/dev/null
binaries="$(swift build -c release --show-bin-path)"
# clang, as SwiftPM builds CSHA256 (see benchmarks/import/floor.sh)
clang -O2 -pthread -I Sources/CSHA256/include -I Sources/CSHA256 benchmarks/import/floor.c Sources/CSHA256/*.c -o "$binaries/import-floor"
python3 benchmarks/pull/cpu.py --manta-net "$binaries/manta-net" --floor "$binaries/import-floor" --model "$fixtures/synthetic-1024m" "$@"
