#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address as its network-order bytes, so two spellings of one IPv6 address compare equal.
struct IPAddressBytes: Equatable {
    let bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }

    /// 127.0.0.0/8 or ::1: only this machine reaches it.
    var isLoopback: Bool {
        bytes.count == 4 ? bytes[0] == 127 : bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1
    }

    /// Whether the CIDR `range` (`10.244.1.0/24`, `fd00::/64`) holds `ip`; false for a malformed range.
    static func range(_ range: String, contains ip: IPAddressBytes) -> Bool {
        let parts = range.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let network = IPAddressBytes(String(parts[0])), network.bytes.count == ip.bytes.count,
            let bits = Int(parts[1]), (0...network.bytes.count * 8).contains(bits)
        else { return false }
        let whole = bits / 8
        let rest = bits % 8
        guard network.bytes.prefix(whole) == ip.bytes.prefix(whole) else { return false }
        guard rest > 0 else { return true }
        let mask = UInt8(0xFF) << (8 - rest)
        return network.bytes[whole] & mask == ip.bytes[whole] & mask
    }
}
