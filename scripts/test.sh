#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, makes the fixtures, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
scripts/validate-deploy.sh
swift build --build-tests
# Tests run side by side, three per core at most unless SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH says
# otherwise: the test binary sets that bound itself (Tests/CTestParallelism), so a plain `swift test` has it too.
# `--no-parallel` runs one at a time.
swift test --skip-build "$@"
