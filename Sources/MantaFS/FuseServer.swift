import CFuse
import Foundation
import Logging
import Synchronization

/// Serves one FUSE connection by speaking the kernel protocol on its descriptors: the first reader answers INIT,
/// then one reader thread per core, each on its own cloned descriptor (on one shared descriptor where the kernel
/// cannot clone). Readers are POSIX threads that never wait on the cooperative pool; reads are answered later,
/// from whatever thread delivers their chunks.
final class FuseServer: Sendable {
    /// Writes are refused (read-only mount), so a write's payload never needs more than this.
    static let maxWrite: UInt32 = 128 << 10
    /// Room for the largest request: a header and arguments (names, at most 4 KiB) beside a write's payload.
    static let bufferSize = Int(maxWrite) + (64 << 10)

    private struct State {
        var negotiation: FuseNegotiation?
        var running = 0
    }

    let operations: FuseOperations
    private let master: FuseChannel
    private let wishes: FuseWishes
    private let readers: Int
    private let backingStackDepth: UInt32
    private let logger: Logger
    private let state = Mutex(State())
    private let onEnd: @Sendable () -> Void
    private let onReady: @Sendable ([FuseChannel], FuseNegotiation) -> Void

    /// `onEnd` runs once, on the last reader thread, after the connection ended; `onReady` once every reader runs.
    init(
        master: FuseChannel, operations: FuseOperations, wishes: FuseWishes, storeRoot: String, logger: Logger,
        onReady: @escaping @Sendable ([FuseChannel], FuseNegotiation) -> Void = { _, _ in }, onEnd: @escaping @Sendable () -> Void
    ) {
        self.master = master
        self.operations = operations
        self.wishes = wishes
        self.logger = logger
        self.onReady = onReady
        self.onEnd = onEnd
        readers = max(2, ProcessInfo.processInfo.activeProcessorCount)
        backingStackDepth = cfuse_backing_stack_depth(storeRoot)
    }

    var negotiation: FuseNegotiation? { state.withLock { $0.negotiation } }

    /// Starts the first reader, which answers INIT and then starts the others.
    func start() {
        startReader(master, answersInit: true, index: 0)
    }

    /// Goes on serving a connection another process initialised (`channels` from its holder, the master first):
    /// a reader per descriptor (or per core on a shared one), then the kernel resends what the dead server had
    /// read and not answered.
    func resume(channels: [FuseChannel], negotiation: FuseNegotiation) {
        operations.configure(negotiation, channel: master)
        state.withLock { $0.negotiation = negotiation }
        let readerChannels = channels.count > 1 ? channels : Array(repeating: master, count: readers)
        for (index, channel) in readerChannels.enumerated() { startReader(channel, answersInit: false, index: index) }
        let status = master.send(unique: 0, error: CFUSE_NOTIFY_RESEND, payload: [])
        if status != 0 {
            logger.warning(
                "the kernel cannot resend the requests the previous server took (FUSE_NOTIFY_RESEND needs Linux 6.9): their readers wait for ever",
                metadata: [
                    "error": "\(String(cString: strerror(status)))"
                ])
        }
        logger.notice("FUSE connection resumed", metadata: ["negotiated": "\(negotiation)"])
    }

    private func startReader(_ channel: FuseChannel, answersInit: Bool, index: Int) {
        state.withLock { $0.running += 1 }
        let thread = Thread { [self] in
            serve(channel, answersInit: answersInit)
            let last = state.withLock { state in
                state.running -= 1
                return state.running == 0
            }
            if last { onEnd() }
        }
        thread.name = "manta-fuse-\(index)"
        thread.stackSize = 1 << 20
        thread.start()
    }

    private func serve(_ channel: FuseChannel, answersInit: Bool) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 16)
        defer { buffer.deallocate() }
        while case .request(let count) = channel.read(into: buffer) {
            guard let request = FuseRequest(UnsafeRawBufferPointer(rebasing: buffer[..<count])) else {
                logger.warning("dropped a FUSE request whose length disagrees with its header", metadata: ["bytes": "\(count)"])
                continue
            }
            let reply = FuseReply(channel: channel, unique: request.unique)
            if request.opcode == FUSE_INIT.rawValue {
                guard answersInit, initialise(request, reply) else { continue }
                startClonedReaders()
            } else {
                operations.handle(request, reply)
            }
        }
    }

    // MARK: INIT

    /// Answers INIT with what both sides support; true once the connection is initialised.
    private func initialise(_ request: FuseRequest, _ reply: FuseReply) -> Bool {
        var arguments = request.arguments
        // Kernels before 7.36 send the first 16 bytes only (no flags2).
        guard let input = arguments.take(fuse_init_in.self, atLeast: 16, zero: fuse_init_in()) else {
            reply.fail(EINVAL)
            return false
        }
        var output = cfuse_init_out()
        output.major = UInt32(FUSE_KERNEL_VERSION)
        output.minor = 40
        guard input.major == FUSE_KERNEL_VERSION, input.minor >= 23 else {
            logger.error(
                "the kernel speaks a FUSE protocol this mount does not",
                metadata: ["kernel": "\(input.major).\(input.minor)", "needs": "7.23 or newer"])
            // A newer major version asks again with ours (the protocol's version negotiation); an older one cannot.
            if input.major > FUSE_KERNEL_VERSION { reply.send(output) } else { reply.fail(EPROTO) }
            return false
        }
        let offered = UInt64(input.flags) | (input.flags & UInt32(FUSE_INIT_EXT) != 0 ? UInt64(input.flags2) << 32 : 0)
        var wanted = UInt64(
            FUSE_ASYNC_READ | FUSE_PARALLEL_DIROPS | FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO | FUSE_BIG_WRITES | FUSE_MAX_PAGES | FUSE_INIT_EXT)
        if wishes.passthrough { wanted |= CFUSE_PASSTHROUGH }
        let agreed = offered & wanted
        let passthrough = agreed & CFUSE_PASSTHROUGH != 0
        let maxPages = agreed & UInt64(FUSE_MAX_PAGES) != 0 ? wishes.maxPages : 32
        output.minor = min(input.minor, 40)
        output.max_readahead = input.max_readahead
        output.flags = UInt32(truncatingIfNeeded: agreed)
        output.flags2 = UInt32(truncatingIfNeeded: agreed >> 32)
        // Requests the kernel keeps in flight in the background (read-ahead among them).
        output.max_background = 64
        output.congestion_threshold = 48
        output.max_write = Self.maxWrite
        output.time_gran = 1
        output.max_pages = UInt16(maxPages)
        output.max_stack_depth = passthrough ? backingStackDepth : 0
        let negotiation = FuseNegotiation(
            kernelMinor: input.minor, maxPages: maxPages, maxWrite: Self.maxWrite, maxReadahead: input.max_readahead,
            passthrough: passthrough, readers: 1, clonedDescriptors: false
        )
        operations.configure(negotiation, channel: master)
        state.withLock { $0.negotiation = negotiation }
        reply.send(output)
        if wishes.passthrough && !passthrough {
            logger.info("the kernel offers no FUSE passthrough (Linux 6.9+ with CONFIG_FUSE_PASSTHROUGH): every file is read through the mount")
        }
        if wishes.maxPages < FuseWishes.wantedPages && wishes.pagesLimit < FuseWishes.wantedPages && wishes.passthrough {
            logger.info(
                "FUSE requests are capped by fs.fuse.max_pages_limit",
                metadata: [
                    "max_pages": "\(maxPages)", "raise": "sysctl -w fs.fuse.max_pages_limit=\(FuseWishes.wantedPages) (then mount again)",
                ])
        }
        return true
    }

    /// Gives every further reader a descriptor of its own; all read from the first where cloning fails.
    private func startClonedReaders() {
        var cloned = wishes.cloneDescriptors
        var channels = [master]
        for index in 1..<readers {
            var channel = master
            if cloned {
                switch FuseChannel.clone(of: master) {
                case .success(let clone): channel = clone
                case .failure(let error):
                    logger.info("cannot clone the FUSE descriptor: all readers share one", metadata: ["error": "\(error)"])
                    cloned = false
                }
            }
            if channel !== master { channels.append(channel) }
            startReader(channel, answersInit: false, index: index)
        }
        let negotiation = state.withLock { state in
            state.negotiation?.readers = readers
            state.negotiation?.clonedDescriptors = cloned
            return state.negotiation
        }
        if let negotiation {
            logger.notice("FUSE connection initialised", metadata: ["negotiated": "\(negotiation)"])
            onReady(channels, negotiation)
        }
    }
}
