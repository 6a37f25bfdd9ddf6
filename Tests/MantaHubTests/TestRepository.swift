import Foundation
import MantaHub
import MantaStore
import MantaTransfer
import NIOCore

/// A small nested repository written to a fresh temporary folder, in the layout `HubServer` serves:
/// `acme/tiny/` (revision main) and `acme/tiny@v2/` (revision v2).
struct TestRepository {
    static var repo: HubRepoID { get throws { try HubRepoID("acme/tiny") } }

    let root: URL
    /// Revision → path → bytes.
    let revisions: [String: [String: [UInt8]]]

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("manta-hub-\(UUID().uuidString)")
        let weights = Self.safetensorsLike(tensorBytes: 384 * 1024)
        let main: [String: [UInt8]] = [
            "config.json": Array(#"{"model_type": "tiny", "hidden_size": 8}"#.utf8),
            "nested/deeper/tokenizer.json": Array(#"{"vocab": {"a": 0, "b": 1}}"#.utf8),
            "model.safetensors": weights,
            ".gitattributes": Array("*.safetensors filter=lfs diff=lfs merge=lfs -text\n".utf8),
        ]
        var v2 = main
        v2["config.json"] = Array(#"{"model_type": "tiny", "hidden_size": 16}"#.utf8)
        revisions = ["main": main, "v2": v2]
        try write(main, to: root.appendingPathComponent("acme/tiny"))
        try write(v2, to: root.appendingPathComponent("acme/tiny@v2"))
    }

    var path: String { root.path }

    func bytes(_ path: String, revision: String = "main") -> [UInt8] { revisions[revision]?[path] ?? [] }

    func sha256(_ path: String, revision: String = "main") -> Digest { SHA256Hasher.hash(bytes(path, revision: revision)) }

    func remove() { try? FileManager.default.removeItem(at: root) }

    private func write(_ files: [String: [UInt8]], to folder: URL) throws {
        for (path, bytes) in files {
            let url = folder.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
    }

    /// The safetensors layout: 8-byte little-endian header length, JSON header, then tensor bytes (a pattern that
    /// makes any misplaced range visible).
    static func safetensorsLike(tensorBytes: Int) -> [UInt8] {
        let header = Array(#"{"weight": {"dtype": "U8", "shape": [\#(tensorBytes)], "data_offsets": [0, \#(tensorBytes)]}}"#.utf8)
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init)
        bytes += header
        bytes += (0..<tensorBytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        return bytes
    }
}

/// Runs `body` against a hub server on 127.0.0.1 with an OS-chosen port over a fresh test repository.
func withTestHub<Result: Sendable>(
    token: String? = nil,
    maximumBytesPerSecond: Int? = nil,
    _ body: (HubServer, HubServerAddress, TestRepository) async throws -> Result
) async throws -> Result {
    let repository = try TestRepository()
    defer { repository.remove() }
    let configuration = try HubServerConfiguration(root: repository.path, token: token, maximumBytesPerSecond: maximumBytesPerSecond)
    let server = HubServer(configuration: configuration)
    return try await server.withRunning { address in try await body(server, address, repository) }
}

/// A client with short retry delays so fault tests stay fast.
func testClient(
    _ address: HubServerAddress, token: String? = nil, maximumAttempts: Int = 5, clock: some Clock<Duration> = ContinuousClock()
) throws -> HubClient {
    let retry = HubRetryPolicy(maximumAttempts: maximumAttempts, initialDelay: .milliseconds(10), maximumDelay: .milliseconds(100))
    return HubClient(configuration: try HubClientConfiguration(endpoint: address.endpoint, token: token, retry: retry), clock: clock)
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}
