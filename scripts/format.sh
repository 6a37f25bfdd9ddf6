#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format and the repository's .swift-format (swift-nio's and
# hummingbird's settings: 150 columns, as hummingbird; arguments packed rather than one a line, as this code was written).
#   scripts/format.sh          rewrite the files in place
#   scripts/format.sh --check  change nothing; list the files that would change and exit 1 if any would (for CI)
# Generated code (Sources/*/Generated, from scripts/generate-csi.sh) is left as its generator wrote it.
set -euo pipefail
cd "$(dirname "$0")/.."

check=false
case "${1:-}" in
"") ;;
--check) check=true ;;
*)
    echo "usage: scripts/format.sh [--check]" >&2
    exit 2
    ;;
esac

mapfile -d '' files < <(
    find Package.swift Sources Tests Fuzz -name '*.swift' -not -path '*/Generated/*' -print0 | sort -z
)

if ! $check; then
    swift format --in-place --parallel --configuration .swift-format "${files[@]}"
    exit 0
fi

# Format a copy and compare: swift-format's lint mode also reports rules it cannot fix, which are not differences.
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
for file in "${files[@]}"; do
    mkdir -p "$copy/$(dirname "$file")"
    cp "$file" "$copy/$file"
done
(cd "$copy" && swift format --in-place --parallel --configuration "$OLDPWD/.swift-format" "${files[@]}")
changed=0
for file in "${files[@]}"; do
    if ! cmp -s "$file" "$copy/$file"; then
        echo "not formatted: $file (scripts/format.sh rewrites it)"
        changed=$((changed + 1))
    fi
done
if ((changed > 0)); then
    echo "$changed of ${#files[@]} Swift files differ from .swift-format's layout" >&2
    exit 1
fi
echo "all ${#files[@]} Swift files formatted"
