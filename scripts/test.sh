#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, makes the fixtures, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
swift build --build-tests
swift test --skip-build "$@"
