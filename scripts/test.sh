#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, makes the fixtures, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
scripts/validate-deploy.sh
swift build --build-tests
# One test at a time: many tests run real agents, hubs and mounts and wait on clocks (stall timeouts,
# Retry-After, rates). Run side by side on two cores they starve each other: a controller step that takes
# 0.2 s alone took over 10 s, and swarm followers gave up on their peers. In parallel the suite took 2 min
# here and failed in turn on such waits; alone it takes under 4 min and every wait means what it says.
swift test --skip-build --no-parallel "$@"
