import CFuse

/// One request as the kernel wrote it, checked before any field is used: the header's length must equal what
/// was read, and every argument is read through `FuseArguments`, which refuses to read past the request.
struct FuseRequest {
    let header: fuse_in_header
    let arguments: FuseArguments

    /// Nil when the bytes cannot be a request (shorter than a header, or a length that disagrees with the read).
    init?(_ bytes: UnsafeRawBufferPointer) {
        let headerSize = MemoryLayout<fuse_in_header>.size
        guard bytes.count >= headerSize else { return nil }
        let header = bytes.loadUnaligned(as: fuse_in_header.self)
        // Extensions (security contexts, supplementary groups) are only sent when asked for at INIT; this mount
        // asks for none, but skips them should a kernel send them anyway.
        let extensions = Int(header.total_extlen) * 8
        guard Int(header.len) == bytes.count, headerSize + extensions <= bytes.count else { return nil }
        self.header = header
        arguments = FuseArguments(bytes: UnsafeRawBufferPointer(rebasing: bytes[headerSize..<(bytes.count - extensions)]))
    }

    var opcode: UInt32 { header.opcode }
    var unique: UInt64 { header.unique }
    var node: UInt64 { header.nodeid }
}

/// The argument bytes of a request, consumed front to back.
struct FuseArguments {
    private(set) var bytes: UnsafeRawBufferPointer

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next structure, or nil when fewer bytes are left than it needs.
    mutating func take<Value>(_ type: Value.Type) -> Value? {
        let size = MemoryLayout<Value>.size
        guard bytes.count >= size else { return nil }
        defer { bytes = UnsafeRawBufferPointer(rebasing: bytes[size...]) }
        return bytes.loadUnaligned(as: type)
    }

    /// The next structure, of which older kernels send only the first `minimum` bytes; the rest reads as zero.
    mutating func take<Value>(_ type: Value.Type, atLeast minimum: Int, zero: Value) -> Value? {
        let size = MemoryLayout<Value>.size
        guard bytes.count >= minimum else { return nil }
        let available = min(size, bytes.count)
        var value = zero
        withUnsafeMutableBytes(of: &value) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<available]))
        }
        bytes = UnsafeRawBufferPointer(rebasing: bytes[available...])
        return value
    }

    /// The next NUL-terminated name, which must end inside the request and be valid UTF-8; nil otherwise.
    mutating func takeName() -> String? {
        guard let end = bytes.firstIndex(of: 0) else { return nil }
        let name = String(validating: UnsafeRawBufferPointer(rebasing: bytes[..<end]), as: UTF8.self)
        bytes = UnsafeRawBufferPointer(rebasing: bytes[(end + 1)...])
        return name
    }
}
