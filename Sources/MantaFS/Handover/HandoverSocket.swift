import CFuse
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One end of a holder's Unix socket: length-prefixed messages, descriptors riding with a message's first byte.
/// Both ends are the same user's processes (the holder checks), yet every length is bounded before it is used.
final class HandoverSocket: Sendable {
    enum Kind: UInt8 {
        /// A server introduces itself; the holder answers `empty` or `resume`.
        case hello = 0x68
        case empty = 0x65
        /// The connection's descriptors and the journal, to a server that goes on serving them.
        case resume = 0x72
        /// A server gives the holder its connection's descriptors and journal.
        case hold = 0x48
        case change = 0x63
        /// The mount ended cleanly: the holder lets go of everything and exits.
        case end = 0x45
        /// Another server takes over: this one must stop reading requests and exit.
        case yield = 0x79
    }

    struct Message {
        let kind: Kind
        let payload: [UInt8]
        let descriptors: [Int32]
    }

    /// A journal names every file a mount showed; a million files fit.
    static let maxPayload = 256 << 20
    private static let headerSize = 5

    let descriptor: Int32

    /// Takes ownership of `descriptor`.
    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    func send(_ kind: Kind, _ payload: [UInt8] = [], descriptors: [Int32] = []) throws(HandoverError) {
        guard payload.count <= Self.maxPayload else { throw .malformed("a \(kind) message of \(payload.count) bytes") }
        let length = UInt32(payload.count)
        var bytes = [
            UInt8(truncatingIfNeeded: length), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length >> 16),
            UInt8(truncatingIfNeeded: length >> 24), kind.rawValue,
        ]
        bytes += payload
        var sent = bytes.withUnsafeBytes { buffer in
            descriptors.withUnsafeBufferPointer { fds in
                cfuse_send_with_descriptors(descriptor, buffer.baseAddress, buffer.count, fds.baseAddress, Int32(fds.count))
            }
        }
        while sent >= 0 && sent < bytes.count {
            let more = bytes.withUnsafeBytes { buffer in
                Glibc.send(descriptor, buffer.baseAddress! + Int(sent), buffer.count - Int(sent), Int32(MSG_NOSIGNAL))
            }
            if more < 0 && errno == EINTR { continue }
            sent = more < 0 ? -Int(errno) : sent + more
        }
        guard sent >= 0 else { throw .socket(operation: "send a \(kind) message", code: Int32(-sent)) }
    }

    /// The next message; nil at the end of the stream.
    func receive() throws(HandoverError) -> Message? {
        var header = [UInt8](repeating: 0, count: Self.headerSize)
        var descriptors = [Int32](repeating: -1, count: Int(CFUSE_HANDOVER_MAX_DESCRIPTORS))
        var count: Int32 = 0
        let first = header.withUnsafeMutableBytes { buffer in
            cfuse_receive_with_descriptors(descriptor, buffer.baseAddress, buffer.count, &descriptors, Int32(descriptors.count), &count)
        }
        guard first >= 0 else { throw .socket(operation: "receive", code: Int32(-first)) }
        let received = Array(descriptors.prefix(Int(count)))
        var kept = false
        defer { if !kept { received.forEach { close($0) } } }
        guard first > 0 else { return nil }
        try readFully(&header, from: first)
        let length = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard let kind = Kind(rawValue: header[4]) else { throw .malformed("a message of unknown kind \(header[4])") }
        guard length <= Self.maxPayload else { throw .malformed("a \(kind) message of \(length) bytes (at most \(Self.maxPayload))") }
        var payload = [UInt8](repeating: 0, count: length)
        try readFully(&payload, from: 0)
        kept = true
        return Message(kind: kind, payload: payload, descriptors: received)
    }

    private func readFully(_ bytes: inout [UInt8], from start: Int) throws(HandoverError) {
        var done = start
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer in Glibc.read(descriptor, buffer.baseAddress! + done, buffer.count - done) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .socket(operation: "receive", code: errno) }
            guard count > 0 else { throw .malformed("the stream ended inside a message") }
            done += count
        }
    }
}

/// The mount's handover failed; the mount goes on without one (a crash then ends it, as without a holder).
public enum HandoverError: Error, CustomStringConvertible {
    case socket(operation: String, code: Int32)
    case malformed(String)
    case noHolder(socket: String, reason: String)

    public var description: String {
        switch self {
        case .socket(let operation, let code): "mount handover: \(operation) failed: \(String(cString: strerror(code)))"
        case .malformed(let what): "mount handover: the other side sent \(what)"
        case .noHolder(let socket, let reason): "mount handover: no holder answers at \(socket): \(reason)"
        }
    }
}
