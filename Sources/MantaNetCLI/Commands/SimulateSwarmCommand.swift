import ArgumentParser
import Foundation
import MantaAgent
import MantaCLISupport
import MantaTransfer

/// A swarm pull in simulated time (`SwarmSimulation`), for the scale benchmark (`benchmarks/swarm-sim`).
struct SimulateSwarmCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate-swarm",
        abstract: "Simulate N nodes pulling one revision, with the agent's own scheduling on a simulated clock and network.",
        discussion: "Prints the outcome as JSON: each node's finish time, the makespan, hub egress and each node's upload.",
        shouldDisplay: false
    )

    @Option(help: "How many nodes pull.")
    var nodes: Int

    @Option(help: ArgumentHelp("S: the revision's size, e.g. 256MiB.", valueName: "bytes"))
    var size: ByteCount

    @Option(name: .customLong("chunk-size"), help: ArgumentHelp("The store's chunk size.", valueName: "bytes"))
    var chunkSize = ByteCount(bytes: 4 << 20)

    @Option(help: ArgumentHelp("B: each node's link rate, up and down, e.g. 100MB/s.", valueName: "rate"))
    var rate: String

    @Option(name: .customLong("hub-rate"), help: ArgumentHelp("The hub's upload rate (B when not given).", valueName: "rate"))
    var hubRate: String?

    @Option(name: .customLong("rate-spread"), help: "Node rates drawn uniformly from B × [1 - spread, 1 + spread].")
    var rateSpread = 0.0

    @Option(help: ArgumentHelp("A node whose link runs at B/4 (repeatable).", valueName: "index"))
    var slow: [Int] = []

    @Option(help: ArgumentHelp("A node killed at a time in seconds (repeatable).", valueName: "index@seconds"))
    var kill: [String] = []

    @Option(help: ArgumentHelp("A node that starts pulling at a time in seconds (repeatable).", valueName: "index@seconds"))
    var late: [String] = []

    @Option(
        help: ArgumentHelp("How followers pass chunks on: \(SwarmTopology.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "topology"))
    var topology = SwarmTopology.automatic

    @Option(name: .customLong("peers-asked"), help: "Peers a node asks in a round that asks everyone (all when not given).")
    var peersAsked: Int?

    @Option(name: .customLong("poll-interval"), help: "Seconds between rounds that ask every peer.")
    var pollInterval = 0.2

    @Option(help: "Seed of the draws (rates, latencies, start jitter, peers asked).")
    var seed: UInt64 = 1

    func run() async throws {
        guard nodes >= 1, nodes <= 100_000 else { throw ValidationError("--nodes must be 1 to 100000") }
        guard size.bytes > 0, chunkSize.bytes > 0 else { throw ValidationError("--size and --chunk-size must be positive") }
        guard let rate = RateLimiter.parseRate(rate), rate > 0 else { throw ValidationError("--rate '\(rate)' is not a rate like 100MB/s") }
        var configuration = SwarmSimulation.Configuration(nodes: nodes, modelBytes: size.bytes, rate: Double(rate))
        configuration.chunkBytes = chunkSize.bytes
        if let hubRate {
            guard let parsed = RateLimiter.parseRate(hubRate), parsed > 0 else { throw ValidationError("--hub-rate '\(hubRate)' is not a rate") }
            configuration.hubRate = Double(parsed)
        }
        guard (0..<1).contains(rateSpread) else { throw ValidationError("--rate-spread must be at least 0 and below 1") }
        configuration.rateSpread = rateSpread
        configuration.slowNodes = slow
        configuration.kills = try Self.timedNodes(kill, option: "--kill")
        configuration.lateStarts = try Self.timedNodes(late, option: "--late")
        configuration.topology = topology
        configuration.peersAsked = peersAsked
        configuration.pollInterval = pollInterval
        configuration.seed = seed
        let outcome = await SwarmSimulation(configuration).run()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(outcome), as: UTF8.self))
    }

    private static func timedNodes(_ texts: [String], option: String) throws -> [Int: Double] {
        var nodes: [Int: Double] = [:]
        for text in texts {
            let parts = text.split(separator: "@")
            guard parts.count == 2, let index = Int(parts[0]), let seconds = Double(parts[1]), seconds >= 0 else {
                throw ValidationError("\(option) '\(text)' is not index@seconds")
            }
            nodes[index] = seconds
        }
        return nodes
    }
}
