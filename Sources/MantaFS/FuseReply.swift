import CFuse

#if canImport(Glibc)
import Glibc
#endif

/// Where the answer to one request goes: the request's id on the descriptor it came from. Sendable, so a chunk
/// source may answer from any thread, later.
struct FuseReply: Sendable {
    let channel: FuseChannel
    let unique: UInt64

    func fail(_ code: Int32) {
        channel.send(unique: unique, error: -code, payload: [])
    }

    func succeed() {
        channel.send(unique: unique, error: 0, payload: [])
    }

    /// Answers with the bytes of one protocol structure.
    func send<Value>(_ value: Value) {
        var copy = value
        withUnsafeMutableBytes(of: &copy) { bytes in
            _ = channel.send(unique: unique, error: 0, payload: [iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)])
        }
    }

    func send(bytes: UnsafeRawBufferPointer) {
        channel.send(unique: unique, error: 0, payload: [iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)])
    }
}
