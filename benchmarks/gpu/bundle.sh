#!/usr/bin/env bash
# Packs a release build of manta and manta-net (`swift build -c release --static-swift-stdlib --product manta`, and `manta-net`) with every shared
# library they load and the dynamic loader into OUT/manta.tar.xz, for a GPU machine that has no Swift toolchain.
# There, unpack it into DIR and run the binaries as
#   DIR/lib/ld-linux-x86-64.so.2 --library-path DIR/lib DIR/bin/manta-net …   (benchmarks/gpu/run.py --loader …)
# Usage: benchmarks/gpu/bundle.sh [RELEASE_DIR (default .build/release)] [OUT (default .gpu)]
set -euo pipefail
release=${1:-.build/release}
out=${2:-.gpu}
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/bin" "$staging/lib" "$out"
for binary in manta manta-net; do
    strip -o "$staging/bin/$binary" "$release/$binary"
done
ldd "$release/manta-net" "$release/manta" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u | while read -r library; do
    cp -L "$library" "$staging/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$staging/lib/"
tar -C "$staging" -cJf "$out/manta.tar.xz" bin lib
du -h "$out/manta.tar.xz"
