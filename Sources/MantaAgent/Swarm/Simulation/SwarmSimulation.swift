import Foundation
import MantaHub
import MantaStore

/// A swarm pull in simulated time: N nodes pull one S-byte revision from a hub and from each other, each node's
/// followers driven by the agent's own scheduling (`FollowBoard`, `FollowVerdict`) on a `ManualClock`, over a
/// simulated network (`SimulatedNetwork`). What is simulated rather than run, and how: docs/swarm.md.
public struct SwarmSimulation: Sendable {
    public struct Configuration: Sendable, Codable {
        public var nodes: Int
        /// S: the revision's bytes, in one file.
        public var modelBytes: UInt64
        public var chunkBytes: UInt64 = 4 << 20
        /// B: each node's link rate (bytes per second), up and down.
        public var rate: Double
        /// The hub's upload rate; B when nil.
        public var hubRate: Double?
        /// Node rates are drawn uniformly from B × [1 - spread, 1 + spread].
        public var rateSpread: Double = 0
        /// Nodes whose link runs at B/4.
        public var slowNodes: [Int] = []
        /// One-way latency of each node's link, drawn uniformly from this range (seconds).
        public var latency: ClosedRange<Double> = 0.001...0.005
        public var topology: SwarmTopology = .automatic
        /// How many peers a node asks in a round that asks everyone; all when nil.
        public var peersAsked: Int?
        /// Nodes that are killed, and when (seconds).
        public var kills: [Int: Double] = [:]
        /// Nodes that start late, and when (seconds); the others start within the first 10 ms.
        public var lateStarts: [Int: Double] = [:]
        public var pollInterval: Double = 0.2
        public var stallTimeout: Double = 15
        /// Streams of a hub pull.
        public var hubStreams = ModelPuller.defaultConcurrency
        /// The simulation ends here (seconds); nodes not done by then have no finish time.
        public var timeLimit: Double?
        public var seed: UInt64 = 1

        public init(nodes: Int, modelBytes: UInt64, rate: Double) {
            self.nodes = nodes
            self.modelBytes = modelBytes
            self.rate = rate
        }

        /// S/B: the least time any node needs.
        public var idealSeconds: Double { Double(modelBytes) / rate }
    }

    public struct Outcome: Sendable, Codable {
        public var configuration: Configuration
        /// Each node's finish time (seconds from the start); nil for nodes killed or not done by the time limit.
        public var finishTimes: [Double?]
        /// The last finish among the nodes that were not killed; nil if one of them did not finish.
        public var makespan: Double?
        /// Bytes the hub sent.
        public var hubBytes: UInt64
        /// Bytes each node sent to other nodes.
        public var uploadBytes: [UInt64]
        /// Nodes that gave up on their peers and pulled from the hub.
        public var hubFallbacks: Int
        /// Events handled, and the wall time the simulation took.
        public var events: Int
        public var wallSeconds: Double
    }

    public let configuration: Configuration

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    public func run() async -> Outcome {
        let started = ContinuousClock.now
        let simulator = SwarmSimulator(configuration)
        var outcome = await simulator.run()
        outcome.wallSeconds = (ContinuousClock.now - started).inSeconds
        return outcome
    }
}
