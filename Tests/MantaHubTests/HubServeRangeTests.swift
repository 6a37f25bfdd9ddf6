import AsyncHTTPClient
import Foundation
import MantaTestSupport
import NIOCore
import Testing

/// `manta hub serve` as a real process, sent Range headers at and past the limits of UInt64: each answer is a
/// clamped 206, a 416 or the whole file, and the server goes on serving.
@Suite struct HubServeRangeTests {
    @Test func rangesAtTheLimitsOfUInt64NeitherCrashNorConfuseHubServe() async throws {
        let directory = try TemporaryDirectory("manta-serve-range")
        let bytes = (0..<1000).map { UInt8($0 % 251) }
        try FileManager.default.createDirectory(atPath: directory.appending("hub/acme/tiny"), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: directory.appending("hub/acme/tiny/config.json")))
        let server = try ChildProcess.start(
            [try MantaProcess.binaryPath(), "hub", "serve", directory.appending("hub"), "--addr", "127.0.0.1:0"], environment: [:],
            captureOutput: true
        )
        defer { kill(server.pid, SIGKILL) }
        let endpoint = try #require(try await server.firstOutputLine().split(separator: "=", maxSplits: 1).last.map(String.init))

        func get(range: String?) async throws -> (status: UInt, body: [UInt8]) {
            var request = HTTPClientRequest(url: "\(endpoint)/acme/tiny/resolve/main/config.json")
            if let range { request.headers.add(name: "Range", value: range) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            return (response.status.code, Array(buffer: try await response.body.collect(upTo: 1 << 20)))
        }
        let largest = "18446744073709551615"
        let clamped = try await get(range: "bytes=0-\(largest)")
        #expect(clamped.status == 206)
        #expect(clamped.body == bytes)
        let tail = try await get(range: "bytes=990-\(largest)")
        #expect(tail.status == 206)
        #expect(tail.body == Array(bytes[990...]))
        #expect(try await get(range: "bytes=\(largest)-\(largest)").status == 416)
        #expect(try await get(range: "bytes=\(largest)-").status == 416)
        let ignored = try await get(range: "bytes=0-99999999999999999999999")
        #expect(ignored.status == 200)
        #expect(ignored.body == bytes)
        #expect(kill(server.pid, 0) == 0, "hub serve is still running")
        #expect(try await get(range: nil).body == bytes)

        kill(server.pid, SIGTERM)
        #expect(await server.status.value == 0)
    }
}
