/// The formats a node takes from outside, each as one libFuzzer target: a function of arbitrary bytes that must
/// return or throw `InvariantViolation`, never trap. `Fuzz/manta-fuzz` runs one under libFuzzer
/// (docs/fuzzing.md); the regression tests feed saved inputs through the same functions in the normal suite.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `Range: bytes=…` against a body length.
    case range
    /// A manifest or registration from a peer or the store.
    case manifest
    /// A swarm query (what a peer asks) or a swarm answer (what it is told).
    case swarm
    /// A safetensors header, planned into chunks.
    case safetensors
    /// A GGUF header, planned into chunks.
    case gguf
    /// The hub's model info and tree pages.
    case hubJSON = "hub-json"

    public func run(_ bytes: [UInt8]) throws(InvariantViolation) {
        var input = FuzzInput(bytes)
        switch self {
        case .range: try RangeTarget.run(&input)
        case .manifest: try ManifestTarget.run(&input)
        case .swarm: try SwarmTarget.run(&input)
        case .safetensors, .gguf: try HeaderTarget.run(&input, target: self)
        case .hubJSON: try HubJSONTarget.run(&input)
        }
    }
}

/// A parser accepted an input but broke a promise its callers rely on (a range past the body, chunks that do
/// not tile the file, a header that asks for fewer bytes than it has).
public struct InvariantViolation: Error, CustomStringConvertible {
    public var target: FuzzTarget
    public var message: String

    public var description: String { "\(target.rawValue): \(message)" }
}
