import CFuse
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One descriptor of a FUSE connection: the mount's own (a duplicate of libfuse's) or a clone of it
/// (`FUSE_DEV_IOC_CLONE`). The kernel answers a request only through the descriptor it was read from, so every
/// reply keeps its channel alive; the descriptor is closed when the last reply and reader let go, never while a
/// reply might still be written to its number.
final class FuseChannel: Sendable {
    let descriptor: Int32

    /// Takes ownership of `descriptor`.
    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// A new descriptor attached to the connection of `channel`, nil (with the errno) when the kernel cannot clone.
    static func clone(of channel: FuseChannel) -> Result<FuseChannel, FuseDeviceError> {
        let descriptor = open("/dev/fuse", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(FuseDeviceError(operation: "open /dev/fuse", code: errno)) }
        let status = cfuse_clone(descriptor, UInt32(bitPattern: channel.descriptor))
        guard status == 0 else {
            close(descriptor)
            return .failure(FuseDeviceError(operation: "FUSE_DEV_IOC_CLONE", code: -status))
        }
        return .success(FuseChannel(descriptor: descriptor))
    }

    enum ReadOutcome {
        case request(Int)
        /// The connection ended (unmounted or aborted): no request will come again.
        case ended
    }

    /// Blocks until the kernel hands over the next request.
    func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadOutcome {
        while true {
            let count = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if count >= 0 { return count == 0 ? .ended : .request(count) }
            switch errno {
            // ENOENT: the request was interrupted before it was read; EINTR/EAGAIN: try again.
            case ENOENT, EINTR, EAGAIN: continue
            default: return .ended
            }
        }
    }

    /// Writes one message (an answer, or a notification with unique 0) in one `writev`: the header, then
    /// `payload`, whose lengths must add up to at most `UInt32.max - header`. Errors are the kernel's to judge:
    /// ENOENT means the request was interrupted and is gone, ENODEV that the connection ended.
    @discardableResult
    func send(unique: UInt64, error: Int32, payload: [iovec]) -> Int32 {
        let length = payload.reduce(MemoryLayout<fuse_out_header>.size) { $0 + $1.iov_len }
        var header = fuse_out_header(len: UInt32(length), error: error, unique: unique)
        return withUnsafeMutableBytes(of: &header) { headerBytes in
            var vectors = [iovec(iov_base: headerBytes.baseAddress, iov_len: headerBytes.count)]
            vectors.append(contentsOf: payload)
            return vectors.withUnsafeBufferPointer { buffer in
                writev(descriptor, buffer.baseAddress, Int32(buffer.count)) == length ? 0 : errno
            }
        }
    }

    deinit {
        close(descriptor)
    }
}

/// A /dev/fuse operation the kernel refused.
struct FuseDeviceError: Error, CustomStringConvertible {
    let operation: String
    let code: Int32

    var description: String { "\(operation): \(String(cString: strerror(code)))" }
}
