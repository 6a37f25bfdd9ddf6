import Foundation
import MantaHub
import MantaServerLimits
import MantaTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `manta hub serve` runs with the same limits as the agent: a body over the cap is refused with its reason before any
/// route runs, one address's stalled connections are capped, and the stalled ones are closed after the idle timeout,
/// while files keep coming byte-identical.
@Suite(.timeLimit(.minutes(2))) struct HubServerLimitsTests {
    @Test func theHubRefusesOversizedRequestsCapsStalledConnectionsAndKeepsServing() async throws {
        let scratch = try TemporaryDirectory()
        let repo = scratch.appending("hub/acme/tiny")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        let config = Data(#"{"model_type": "tiny"}"#.utf8)
        try config.write(to: URL(fileURLWithPath: "\(repo)/config.json"))
        var configuration = try HubServerConfiguration(root: scratch.appending("hub"))
        configuration.limits.idleTimeout = .seconds(2)
        configuration.limits.maxConnectionsPerClient = 16
        let limit = configuration.limits.maxRequestBodySize
        let hub = HubServer(configuration: configuration)
        try await hub.withRunning { address in
            let port = address.port
            let huge = "POST /api/models/acme/tiny/paths-info/main HTTP/1.1\r\nHost: hub\r\nContent-Length: 1000000000000\r\n\r\n"
            let refused = try await blocking { try rawExchange(port: port, Array(huge.utf8)) }
            #expect(refused.hasPrefix("HTTP/1.1 413"), "\(refused)")
            #expect(refused.contains("a request body of 1000000000000 bytes is over this server's limit of \(limit) bytes"), "\(refused)")

            let hugeHeader = "GET /api/models/acme/tiny HTTP/1.1\r\nHost: hub\r\nX-Filler: \(String(repeating: "a", count: 100_000))\r\n\r\n"
            let tooLong = try await blocking { try rawExchange(port: port, Array(hugeHeader.utf8)) }
            #expect(tooLong.hasPrefix("HTTP/1.1 400"), "a header over the cap is refused: \(tooLong.prefix(200))")

            let stalled = HalfOpenConnections()
            try await blocking { stalled.open(100, to: port, from: ["127.0.0.3"], deadline: .now + .seconds(20)) }
            try await eventually("one address keeps at most its 16 connections") { try await blocking { stalled.stillOpen() } <= 16 }

            let (body, response) = try await URLSession.shared.data(from: URL(string: "\(address.endpoint)/acme/tiny/resolve/main/config.json")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            #expect(body == config, "served byte-identical beside the stalled connections")

            try await eventually("the idle timeout closes the stalled connections", timeout: .seconds(8)) {
                try await blocking { stalled.stillOpen() } == 0
            }
            stalled.closeAll()
        }
    }

    @Test func aClientThatNeverFinishesItsBodyOrStopsReadingIsDropped() async throws {
        let scratch = try TemporaryDirectory()
        let repo = scratch.appending("hub/acme/big")
        try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
        // Far more than the two sockets' buffers hold, so a client that reads nothing leaves the server unwritable.
        let size = 64 << 20
        try Data(count: size).write(to: URL(fileURLWithPath: "\(repo)/model.safetensors"))
        var configuration = try HubServerConfiguration(root: scratch.appending("hub"))
        configuration.limits.bodyReadTimeout = .seconds(1)
        configuration.limits.writeStallTimeout = .seconds(1)
        let hub = HubServer(configuration: configuration)
        try await hub.withRunning { address in
            let port = address.port
            let started = ContinuousClock.now
            let partial = "POST /api/models/acme/big/paths-info/main HTTP/1.1\r\nHost: hub\r\nContent-Length: 100\r\n\r\npaths="
            let unfinished = try await blocking { try rawExchange(port: port, Array(partial.utf8), timeout: .seconds(10)) }
            #expect(unfinished.isEmpty, "no answer to a request whose body never came: \(unfinished.prefix(200))")
            #expect(ContinuousClock.now - started < .seconds(8), "closed after the body-read timeout, not the idle one")

            let stalled = HalfOpenConnections()
            let get = "GET /acme/big/resolve/main/model.safetensors HTTP/1.1\r\nHost: hub\r\n\r\n"
            try await blocking { stalled.open(1, to: port, from: ["127.0.0.4"], sending: get, deadline: .now + .seconds(5)) }
            try #require(stalled.descriptors.count == 1)
            // The client reads nothing: the server gives up once its socket stays full for the stall timeout, long before
            // the idle timeout, and what the client then drains is cut short of the file.
            try await Task.sleep(for: .seconds(3))
            let drained = try await blocking { stalled.drain() }
            #expect(drained < size, "the stalled response was cut off after \(drained) of \(size) bytes")
            #expect(try await blocking { stalled.stillOpen() } == 0)
            let (body, _) = try await URLSession.shared.data(from: URL(string: "\(address.endpoint)/acme/big/resolve/main/model.safetensors")!)
            #expect(body.count == size, "a client that reads is served the whole file")
            stalled.closeAll()
        }
    }
}
