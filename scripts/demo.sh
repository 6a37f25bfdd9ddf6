#!/usr/bin/env bash
# The main job on the embedded default (no Kubernetes): build manta, make the fixtures, import the real
# model and a sharded synthetic one into a fresh store, list them, show dedup, export and compare byte for byte.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-dependencies.sh
python3 scripts/make-fixtures.py >/dev/null
swift build --product manta
manta="$(swift build --show-bin-path)/manta"

work="$(mktemp -d -t manta-demo-XXXXXX)"
trap 'rm -rf "$work"' EXIT
store="$work/store"
real=".fixtures/real/sentence-transformers/all-MiniLM-L6-v2"

"$manta" import "$real" --repo sentence-transformers/all-MiniLM-L6-v2 --store "$store"
"$manta" import .fixtures/synthetic-48m --repo acme/llama-synthetic --store "$store"
"$manta" import .fixtures/synthetic-48m-edited --repo acme/llama-synthetic --revision edited-header --store "$store"
"$manta" ls --store "$store"
"$manta" du --store "$store"
"$manta" export sentence-transformers/all-MiniLM-L6-v2 "$work/export" --store "$store"
diff -r "$real" "$work/export"
"$manta" verify --store "$store"
echo "demo: import → ls → export round trip is byte-identical"
