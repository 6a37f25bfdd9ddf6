/// A `Range` request header for one range: `bytes=first-last`, `bytes=first-` or `bytes=-suffixLength`.
/// Several ranges, other units or malformed headers are ignored (the whole file is sent), as RFC 9110 allows.
enum ByteRangeRequest: Equatable {
    case whole
    case satisfiable(ClosedRange<Int64>)
    case unsatisfiable

    static func parse(_ header: String?, size: Int64) -> ByteRangeRequest {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).filter { $0 != " " }
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let firstText = spec[..<dash]
        let lastText = spec[spec.index(after: dash)...]
        if firstText.isEmpty {
            guard let suffix = Int64(lastText) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable(max(0, size - suffix)...(size - 1))
        }
        guard let first = Int64(firstText) else { return .whole }
        let last: Int64
        if lastText.isEmpty {
            last = size - 1
        } else {
            guard let parsed = Int64(lastText), parsed >= first else { return .whole }
            last = min(parsed, size - 1)
        }
        guard first < size else { return .unsatisfiable }
        return .satisfiable(first...last)
    }
}
