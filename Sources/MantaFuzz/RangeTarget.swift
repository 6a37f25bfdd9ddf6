import MantaWire

/// Input: the body length (8 bytes), then the header value.
enum RangeTarget {
    static func run(_ input: inout FuzzInput) throws(InvariantViolation) {
        let length = input.uint64()
        let header = String(decoding: input.rest, as: UTF8.self)
        guard case .partial(let range) = ByteRange.parse(header, length: length) else { return }
        guard range.lowerBound < range.upperBound, range.upperBound <= length else {
            throw InvariantViolation(target: .range, message: "'\(header)' gave \(range.lowerBound)..<\(range.upperBound) for a \(length)-byte body")
        }
        _ = range.contentRange(of: length)
    }
}
