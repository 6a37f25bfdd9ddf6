// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "manta",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "manta", targets: ["MantaCLI"]),
        .executable(name: "manta-net", targets: ["MantaNetCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.36.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.3.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // C shims over system libraries (installed by apt, see .ci/run).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CFuse", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev", "fuse3"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLinux"),
        // Optimized in debug builds too: the tests hash hundreds of MiB through it, 8x slower at -O0. clang has no
        // per-function way to raise the level, so the flag stays, and the package offers no library product: SwiftPM
        // refuses a versioned dependency's product with unsafe flags in it.
        .target(name: "CSHA256", cSettings: [.unsafeFlags(["-O2"])]),

        // Layers: CLI (manta, manta-net) → agent → fs / peer / hub / kube → store.
        .target(
            name: "MantaStore",
            dependencies: [
                "CZstd", "COpenSSL", "CSQLite", "CLinux", "CSHA256",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Transfer primitives every layer that moves bytes shares: rate limiting with fetch priorities, and the chunk and
        // span fetcher seams the hub, the peers and the mount plug into.
        .target(name: "MantaTransfer", dependencies: ["MantaStore"]),
        // Formats that arrive from outside (HTTP byte ranges, swarm answers, hub JSON): decoded and bounded, no I/O, so
        // that the fuzz targets build without the network stack.
        .target(name: "MantaWire", dependencies: ["MantaStore"]),
        // The fuzz targets' bodies (docs/fuzzing.md): plain functions of bytes, so the tests replay saved inputs.
        .target(name: "MantaFuzz", dependencies: ["MantaWire", "MantaStore"]),
        // Limits every HTTP server of the project runs with: connection caps, timeouts, header and body caps.
        .target(
            name: "MantaServerLimits",
            dependencies: [
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "MantaFS",
            dependencies: [
                "CFuse", "MantaStore", "MantaTransfer",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "MantaHub",
            dependencies: [
                "MantaServerLimits", "MantaStore", "MantaTransfer", "MantaWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "_NIOFileSystem", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "MantaPeer",
            dependencies: [
                "MantaServerLimits", "MantaStore", "MantaTransfer", "MantaWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .target(
            name: "MantaKube",
            dependencies: [
                "MantaServerLimits", "MantaStore", "MantaTransfer",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // The CSI node plugin kubelet publishes volumes through (gRPC on a unix socket); the agent is its backend.
        .target(
            name: "MantaCSI",
            dependencies: [
                "MantaStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The Kubernetes API for Torrents, Replications and NodeTrackers served in-process: `manta up` and the tests.
        .target(
            name: "MantaKubeAPI",
            dependencies: [
                "COpenSSL", "MantaKube", "MantaStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "MantaAgent",
            dependencies: [
                "MantaServerLimits", "MantaStore", "MantaTransfer", "MantaWire", "MantaFS", "MantaHub", "MantaPeer", "MantaKube", "MantaCSI",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The command line is two executables: `manta` (the local store commands) runs `manta-net` (the
        // network commands) in its place, so the store commands do not load the network stack.
        .target(
            name: "MantaCLISupport",
            dependencies: [
                "MantaStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "MantaCLI",
            dependencies: [
                "MantaCLISupport", "MantaStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "MantaNetCLI",
            dependencies: [
                "MantaServerLimits", "MantaCLISupport", "MantaStore", "MantaTransfer", "MantaFS", "MantaHub", "MantaPeer", "MantaKube", "MantaAgent",
                "MantaKubeAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        .target(name: "CTestParallelism", path: "Tests/CTestParallelism"),
        .target(
            name: "MantaTestSupport",
            dependencies: [
                "CTestParallelism", "MantaServerLimits", "MantaStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/MantaTestSupport"
        ),
        .testTarget(name: "MantaCLITests", dependencies: ["MantaCLISupport", "MantaStore", "MantaTestSupport", "MantaTransfer"]),
        .testTarget(name: "MantaTransferTests", dependencies: ["MantaStore", "MantaTestSupport", "MantaTransfer"]),
        .testTarget(name: "MantaWireTests", dependencies: ["MantaWire", "MantaStore", "MantaFuzz", "MantaTestSupport"]),
        .testTarget(name: "MantaStoreTests", dependencies: ["CLinux", "MantaStore", "MantaTestSupport"]),
        // Mounts through the built `manta` executable, so it imports no MantaFS.
        .testTarget(name: "MantaFSTests", dependencies: ["MantaFS", "MantaStore", "MantaTestSupport", "MantaTransfer"]),
        .testTarget(
            name: "MantaHubTests",
            dependencies: [
                "MantaHub", "MantaStore", "MantaTestSupport", "MantaTransfer", "MantaWire",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MantaPeerTests",
            dependencies: [
                "MantaPeer", "MantaWire", "MantaStore", "MantaTestSupport", "MantaTransfer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "MantaAgentTests",
            dependencies: [
                "MantaServerLimits", "MantaAgent", "MantaCSI", "MantaPeer", "MantaWire", "MantaHub", "MantaStore", "MantaTestSupport",
                "MantaTransfer",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "MantaKubeTests",
            dependencies: [
                "MantaKube", "MantaKubeAPI", "MantaAgent", "MantaHub", "MantaPeer", "MantaStore", "MantaTestSupport", "MantaTransfer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// The libFuzzer executable, declared only for scripts/fuzz.sh: it sets MANTA_FUZZ and builds with
// `--sanitize fuzzer` in .build-fuzz, so the normal build neither compiles it nor needs the fuzzer runtime.
if Context.environment["MANTA_FUZZ"] != nil {
    package.products.append(.executable(name: "manta-fuzz", targets: ["MantaFuzzer"]))
    package.targets.append(
        .executableTarget(
            name: "MantaFuzzer", dependencies: ["MantaFuzz"], path: "Fuzz/manta-fuzz",
            // libFuzzer supplies `main`.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    )
}
