/// A single HTTP byte range (`Range: bytes=…`), resolved against a length.
public struct ByteRange: Hashable, Sendable {
    public var lowerBound: UInt64
    /// Exclusive.
    public var upperBound: UInt64

    public var count: UInt64 { upperBound - lowerBound }

    public init(_ lowerBound: UInt64, _ upperBound: UInt64) {
        self.lowerBound = lowerBound
        self.upperBound = upperBound
    }

    public enum ParseResult: Equatable, Sendable {
        /// No Range header, or one this server ignores: send everything.
        case whole
        case partial(ByteRange)
        /// A syntactically valid range that selects nothing: 416.
        case unsatisfiable
    }

    /// Parses `bytes=a-b`, `bytes=a-` and `bytes=-n` for a body of `length` bytes. Multiple ranges and
    /// other units are answered with the whole body, as RFC 9110 allows. Every number is hostile: one that
    /// does not fit a UInt64 makes the header ignored, and none is added to before it is clamped to `length`.
    public static func parse(_ header: String?, length: UInt64) -> ParseResult {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).filter { $0 != " " }
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let suffix = UInt64(last) else { return .whole }
            guard suffix > 0 else { return .unsatisfiable }
            return length == 0 ? .unsatisfiable : .partial(ByteRange(length - min(suffix, length), length))
        }
        guard let start = UInt64(first) else { return .whole }
        guard start < length else { return .unsatisfiable }
        if last.isEmpty { return .partial(ByteRange(start, length)) }
        guard let end = UInt64(last), end >= start else { return .whole }
        // `end` may be UInt64.max (`bytes=0-18446744073709551615`): clamp before adding one, never after.
        return .partial(ByteRange(start, min(end, length - 1) + 1))
    }

    /// `bytes a-b/length` for a Content-Range header.
    public func contentRange(of length: UInt64) -> String { "bytes \(lowerBound)-\(upperBound - 1)/\(length)" }
}
