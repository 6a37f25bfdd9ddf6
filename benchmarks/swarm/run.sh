#!/usr/bin/env bash
# A swarm of real agents in network namespaces (see run.py; root, ip and tc needed). Recorded figures:
# S = 256 MiB, B = 5 MB/s, release build (MANTA=.build/release/manta benchmarks/swarm/run.sh --rate 5MB/s); quick mode (S = 32 MiB): BENCH_SWARM_MIB=32 benchmarks/swarm/run.sh --name results-quick
# Usage: benchmarks/swarm/run.sh [--runs base:16,base:32,slow:16,kill:16,late:16] [--rate 2MB/s] [--name results]
set -euo pipefail
cd "$(dirname "$0")/../.."
mib="${BENCH_SWARM_MIB:-256}"
fixtures="${BENCH_FIXTURES:-/var/tmp/swarm-fixtures}"
manta="${MANTA:-.build/debug/manta}"
python3 scripts/make-fixtures.py --synthetic-mib "$mib" --out "$fixtures" >/dev/null
python3 -c "import matplotlib" 2>/dev/null || pip install -q matplotlib
# run.py removes its namespaces, links and processes itself; this catches a kill of the wrapper too.
cleanup() { for ns in $(ip netns list | awk '/^msw-/ {print $1}'); do ip netns pids "$ns" | xargs -r kill -9; ip netns del "$ns"; done; ip link del mswbr0 2>/dev/null || true; }
trap cleanup EXIT
timeout 3600 python3 benchmarks/swarm/run.py --manta "$manta" --model "$fixtures/synthetic-${mib}m" --rate 2MB/s "$@"
