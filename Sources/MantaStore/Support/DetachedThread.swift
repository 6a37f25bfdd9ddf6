#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A POSIX thread that runs one closure and ends. The store's blocking work (disk I/O, hashing) runs on these,
/// never on Swift's cooperative pool; POSIX threads directly rather than Foundation's `Thread` because the `manta`
/// executable links FoundationEssentials alone, and full Foundation's size (ICU's data, its conformance records)
/// is paid at every start.
enum DetachedThread {
    /// Starts `body` on a new thread with a 1 MiB stack (the lanes keep their buffers on the heap). Throws
    /// `StoreError.threadUnavailable` when the system will not start one: a container's `pids.max`, `ulimit -u` or
    /// memory is used up, which callers outlive by doing with the threads they have.
    static func start(_ body: @escaping @Sendable () -> Void) throws {
        let context = Unmanaged.passRetained(Context(body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, 1 << 20)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        var thread = pthread_t()
        let status = pthread_create(
            &thread, &attributes,
            { context in
                Unmanaged<Context>.fromOpaque(context!).takeRetainedValue().body()
                return nil
            }, context)
        guard status == 0 else {
            Unmanaged<Context>.fromOpaque(context).release()
            throw StoreError.threadUnavailable(errno: status)
        }
    }

    private final class Context: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
