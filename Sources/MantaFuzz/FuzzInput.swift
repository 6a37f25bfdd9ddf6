/// Splits one fuzz input into the values a target needs: fixed-width numbers from the front, then the rest as
/// the payload. Short inputs read as zeros, so every input is a valid call.
struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    init(_ bytes: [UInt8]) {
        self.bytes = bytes[...]
    }

    /// Up to 8 bytes, little-endian.
    mutating func uint64() -> UInt64 {
        let taken = bytes.prefix(8)
        bytes = bytes.dropFirst(8)
        return taken.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func byte() -> UInt8 {
        defer { bytes = bytes.dropFirst() }
        return bytes.first ?? 0
    }

    var rest: [UInt8] { Array(bytes) }
}
