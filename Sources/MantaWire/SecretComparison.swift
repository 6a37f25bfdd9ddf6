/// Comparison of secrets (bearer tokens) whose time does not depend on where the two first differ, so that a client
/// timing the answers cannot find a token byte by byte. Only the lengths may show.
public enum SecretComparison {
    public static func equals(_ left: some Sequence<UInt8>, _ right: some Sequence<UInt8>) -> Bool {
        let left = Array(left)
        let right = Array(right)
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0
    }

    /// Whether an `Authorization` header is `Bearer <token>`.
    public static func isBearer(_ header: String?, token: String) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        return equals(header.utf8.dropFirst(7), token.utf8)
    }
}
