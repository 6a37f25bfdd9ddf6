#!/usr/bin/env bash
# Regenerates Sources/MantaCSI/Generated from Protos/csi/csi.proto. Only needed after editing the .proto: the
# generated Swift is committed, so builds and CI need neither protoc nor the plugins.
# Needs protoc (apt-get install protobuf-compiler) and builds the two plugins, at the versions Package.swift
# names, in a scratch package outside the tree (about 10 minutes on 2 cores the first time).
#   scripts/generate-csi.sh                    # plugins built in /tmp/manta-csi-codegen
#   CODEGEN_DIR=/somewhere scripts/generate-csi.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
codegen="${CODEGEN_DIR:-/tmp/manta-csi-codegen}"
command -v protoc >/dev/null || { echo "protoc is missing: apt-get install protobuf-compiler" >&2; exit 1; }

mkdir -p "$codegen/Sources/Plugins"
: > "$codegen/Sources/Plugins/Empty.swift"
cat > "$codegen/Package.swift" <<'SWIFT'
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "manta-csi-codegen",
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2", exact: "2.4.3"),
    ],
    targets: [.target(name: "Plugins")]
)
SWIFT
for product in protoc-gen-swift protoc-gen-grpc-swift-2; do
    swift build -c release --package-path "$codegen" --scratch-path "$codegen/.build" --product "$product"
done
bin="$codegen/.build/release"

out="$root/Sources/MantaCSI/Generated"
rm -rf "$out"
mkdir -p "$out"
protoc --proto_path="$root/Protos" \
    --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
    --swift_opt=Visibility=Public --swift_out="$out" \
    --grpc-swift-2_opt=Visibility=Public,Client=true,Server=true --grpc-swift-2_out="$out" \
    csi/csi.proto
echo "generated: $(cd "$out" && find . -name '*.swift' | sort | tr '\n' ' ')"
