#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, makes the fixtures, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
scripts/validate-deploy.sh
swift build --build-tests
# Tests run side by side, three per core at most: many start real agents, hubs and mounts, and with every test
# at once on two cores (load over 30) a 3 s stall timeout measured on the wall clock passed before a loopback
# answer was read. Tests that block their thread run on threads of their own (MantaTestSupport's
# `.threadsOfItsOwn`), never on the shared pool the in-process servers need. `--no-parallel` runs one at a time.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-$(($(nproc) * 3))}"
swift test --skip-build "$@"
