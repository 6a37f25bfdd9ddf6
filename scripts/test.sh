#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, makes the fixtures, builds, and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
scripts/validate-deploy.sh
swift build --build-tests
# Clock-based suites (named Timing…) run alone after the rest, so parallel suites cannot starve them.
swift test --skip-build --skip Timing "$@"
swift test --skip-build --filter Timing --no-parallel
