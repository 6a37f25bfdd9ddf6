import MantaStore

/// Input: a chunk-size exponent (1 byte), the file size (8 bytes), then the file's first bytes as the hub or the
/// disk gave them (possibly more than the file size says). Whatever the header claims, the plan must tile the
/// file, and a request for more header must ask for more than it got, or the planner's read loop never ends.
enum HeaderTarget {
    /// Caps the plan at 4,096 fixed blocks plus one chunk per tensor: a larger file is a valid input that only
    /// slows the fuzzer down. Sizes from a hub are capped (`HubAnswerLimits`) before they reach the planner.
    static let maximumBlocks: UInt64 = 1 << 12

    static func run(_ input: inout FuzzInput, target: FuzzTarget) throws(InvariantViolation) {
        let path = "model.\(target.rawValue)"
        // 4 KiB to 128 MiB, the range a store's chunk size may take.
        let parameters = ChunkingParameters(targetSize: 4096 << UInt64(input.byte() % 16))
        let fileSize = input.uint64() % (parameters.targetSize * maximumBlocks + 1)
        let prefix = input.rest
        switch ChunkPlanner.plan(path: path, fileSize: fileSize, prefix: prefix, parameters: parameters) {
        case .needHeader(let bytes):
            guard bytes > prefix.count, UInt64(bytes) <= fileSize else {
                throw InvariantViolation(target: target, message: "asks for \(bytes) header bytes, given \(prefix.count) of a \(fileSize)-byte file")
            }
        case .plan(let plan):
            var end: UInt64 = 0
            for span in plan.spans {
                guard span.offset == end, span.length > 0, span.length <= fileSize - end else {
                    throw InvariantViolation(
                        target: target, message: "span \(span.offset)+\(span.length) does not continue the plan at \(end) in a \(fileSize)-byte file")
                }
                end += span.length
            }
            guard end == fileSize else {
                throw InvariantViolation(target: target, message: "the plan covers \(end) of \(fileSize) bytes")
            }
        }
    }
}
