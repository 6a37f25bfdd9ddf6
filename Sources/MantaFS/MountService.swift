import CFuse
import Foundation
import Logging
import MantaStore
import Synchronization

/// A read-only FUSE mount of the store's models. libfuse mounts it (`fusermount3` when not root); `FuseServer`
/// speaks the kernel protocol on the connection's descriptors.
///
/// `start()` mounts and returns; `stop()` unmounts and waits for the session to end; `run()` does both for a
/// task (it returns when the mount ends, and stops the mount when the task is cancelled).
public final class MountService: Sendable {
    public let mountPoint: String
    public let fileSystem: ModelFileSystem
    private let configuration: MountConfiguration
    private let logger: Logger
    private let ownedSource: StoreChunkSource?
    let copies: PassthroughCopies
    private let state = Mutex(State())
    private let finished = DispatchSemaphore(value: 0)

    private struct State {
        /// libfuse's session of a mount this process made; nil for one taken over from a holder.
        var session: Session?
        var adopted = false
        var holder: MountHandover.Connection?
        /// The holder keeps this mount's connection (and journal) for a next server.
        var held = false
        var server: FuseServer?
        var negotiation: FuseNegotiation?
        var started = false
        var unmounted = false
        /// `stop()` came while `start()` was still mounting.
        var stopRequested = false
        var ended = false
        var connection: UInt32?
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// The backings of the server running now, when it passes files through.
        var backings: PassthroughBackings?
    }

    private struct Session: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let refresherStop = DispatchSemaphore(value: 0)

    /// `source` defaults to the store itself (the chunk files on this node).
    public init(
        store: Store, mountPoint: String, configuration: MountConfiguration = MountConfiguration(),
        source: (any ChunkSource)? = nil, logger: Logger = Logger(label: "manta.fs")
    ) {
        self.mountPoint = mountPoint.count > 1 && mountPoint.hasSuffix("/") ? String(mountPoint.dropLast()) : mountPoint
        self.configuration = configuration
        self.logger = logger
        let storeSource = source == nil ? StoreChunkSource(store: store, configuration: configuration, logger: logger) : nil
        ownedSource = storeSource
        fileSystem = ModelFileSystem(store: store, source: source ?? storeSource!, configuration: configuration, logger: logger)
        copies = PassthroughCopies(store: store, source: fileSystem.source, logger: logger)
    }

    /// What the kernel agreed to at INIT; nil until the mount is started.
    public var negotiation: FuseNegotiation? { state.withLock { $0.negotiation ?? $0.server?.negotiation } }

    /// Mounts and starts serving; returns once the kernel routes requests to this process. Blocks: call it from a
    /// thread, or use `run()` from a task.
    public func start() throws {
        try state.withLock { state in
            guard !state.started else { throw MountError.alreadyStarted(mountPoint) }
            state.started = true
        }
        // Before anything looks at the mount point: one a holder keeps for a dead server blocks every stat.
        let held = connectToHolder()
        if case .resume(let descriptors, let journal) = held?.greeting, let holder = held?.connection {
            fileSystem.pins.removeStalePins()
            let wishes = wishes()
            return resume(descriptors: descriptors, journal: journal, holder: holder, passthrough: wishes.passthrough)
        }
        try checkMountPoint()
        fileSystem.pins.removeStalePins()
        let wishes = wishes()
        let session = try makeSession(maxRead: wishes.maxRead)
        guard fuse_session_mount(session, mountPoint) == 0 else {
            fuse_session_destroy(session)
            state.withLock { $0.ended = true }
            throw MountError.mountFailed(mountPoint)
        }
        // Our own descriptor of the connection: libfuse closes its one when unmounting, while replies may still
        // be on their way to ours.
        let descriptor = fcntl(fuse_session_fd(session), F_DUPFD_CLOEXEC, 0)
        guard descriptor >= 0 else {
            fuse_session_unmount(session)
            fuse_session_destroy(session)
            state.withLock { $0.ended = true }
            throw MountError.mountFailed(mountPoint)
        }
        let master = FuseChannel(descriptor: descriptor)
        let operations = makeOperations(passthrough: wishes.passthrough)
        let mounted = Session(pointer: session)
        let server = FuseServer(
            master: master, operations: operations, wishes: wishes, storeRoot: fileSystem.storeRoot, logger: logger,
            onReady: { [self] channels, negotiation in
                if let holder = held?.connection { handOver(channels, negotiation, to: holder) }
            }, onEnd: { [self] in finishSession(mounted) }
        )
        state.withLock { state in
            state.session = Session(pointer: session)
            state.server = server
        }
        fileSystem.notifier.attach(master)
        server.start()
        // The first stat waits for the kernel's INIT handshake, which the first reader answers; read-ahead set before it
        // would be lowered again by INIT.
        let connection = connectionNumber()
        state.withLock { $0.connection = connection }
        tuneReadAhead(connection)
        startRefresher()
        logger.notice("mounted", metadata: ["mountpoint": "\(mountPoint)", "models": "\(mountPoint)/models", "hub": "\(mountPoint)/hub"])
        if state.withLock({ $0.stopRequested }) { stop() }
    }

    private func wishes() -> FuseWishes {
        let wishes = FuseWishes(kernelFeatures: FuseWishes.kernelFeaturesEnabled(configuration: configuration))
        if wishes.passthrough {
            fileSystem.whenModelsChange { [copies] in copies.prune(keeping: $0) }
            copies.prune(keeping: fileSystem.fileDigests())
        }
        return wishes
    }

    private func makeOperations(passthrough: Bool) -> FuseOperations {
        let backings =
            passthrough
            ? PassthroughBackings(copies: copies, journal: fileSystem.journal, keepFor: .seconds(configuration.unpinDelay), logger: logger) : nil
        state.withLock { $0.backings = backings }
        return FuseOperations(fileSystem: fileSystem, backings: backings, logger: logger)
    }

    // MARK: Handover

    private struct Held {
        let connection: MountHandover.Connection
        let greeting: MountHandover.Greeting
    }

    /// The holder's greeting; nil (the mount then ends with this process) without a handover or a holder.
    private func connectToHolder() -> Held? {
        guard let handover = configuration.handover else { return nil }
        do {
            let (connection, greeting) = try handover.connect(logger: logger)
            state.withLock { $0.holder = connection }
            connection.whenAskedToYield { [self] in
                leave(to: handover, because: "a new server takes the mount over")
            }
            return Held(connection: connection, greeting: greeting)
        } catch {
            logger.warning("the mount ends with this process: no holder keeps it for the next one", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Ends this process without unmounting; the requests it had taken are resent to the next server.
    private func leave(to handover: MountHandover, because reason: String) {
        logger.notice("\(reason): this server exits without unmounting", metadata: ["mountpoint": "\(mountPoint)"])
        fileSystem.source.flushAccessLog()
        handover.yield()
    }

    private func handOver(_ channels: [FuseChannel], _ negotiation: FuseNegotiation, to holder: MountHandover.Connection) {
        do {
            fileSystem.journal.record(.negotiated(negotiation))
            try fileSystem.journal.attach(holder) { journal throws(HandoverError) in
                try holder.hold(descriptors: channels.map(\.descriptor), journal: journal)
            }
            state.withLock { $0.held = true }
            logger.info("the mount's holder keeps its connection for a next server", metadata: ["descriptors": "\(channels.count)"])
        } catch {
            logger.warning("the mount ends with this process: its holder refused the connection", metadata: ["error": "\(error)"])
        }
    }

    /// Goes on serving the kernel connection a previous server of this mount point left with the holder.
    private func resume(descriptors: [Int32], journal: MountJournal, holder: MountHandover.Connection, passthrough: Bool) {
        let channels = descriptors.map { FuseChannel(descriptor: $0) }
        let master = channels[0]
        // Attached first: the names the adopted tree adds reach the holder's journal too.
        fileSystem.journal.attach(holder) { _ in }
        fileSystem.adopt(journal)
        let negotiation = journal.negotiation!
        let operations = makeOperations(passthrough: negotiation.passthrough)
        operations.adopt(journal, channel: master)
        let server = FuseServer(
            master: master, operations: operations, wishes: FuseWishes(kernelFeatures: passthrough), storeRoot: fileSystem.storeRoot, logger: logger,
            onEnd: { [self] in finishSession(nil) }
        )
        state.withLock { state in
            state.adopted = true
            state.held = true
            state.server = server
            state.negotiation = negotiation
        }
        fileSystem.notifier.attach(master)
        server.resume(channels: channels, negotiation: negotiation)
        state.withLock { $0.connection = connectionNumber() }
        startRefresher()
        logger.notice(
            "resumed the mount a previous server left",
            metadata: [
                "mountpoint": "\(mountPoint)", "open_files": "\(journal.files.count)", "inodes": "\(journal.inodes.count)",
            ])
        if state.withLock({ $0.stopRequested }) { stop() }
    }

    /// Unmounts and waits until the session ended. Safe to call more than once and from any thread (not from a
    /// Swift task: it blocks).
    public func stop() {
        if let handover = configuration.handover, handover.leavesMountOnStop, state.withLock({ $0.held }) {
            leave(to: handover, because: "stopped: the holder keeps the mount for the next server")
        }
        let serving = state.withLock { state in
            guard state.started, !state.ended else { return false }
            if state.server == nil { state.stopRequested = true }
            return state.server != nil
        }
        guard serving else { return }
        refresherStop.signal()
        fileSystem.notifier.detach()
        endHandover()
        // The readers may end (and destroy the session) at any moment: only touch the session under the lock.
        state.withLock { state in unmountOnce(&state) }
        // Open files keep the kernel connection alive after a lazy unmount; abort it if the loop does not end.
        if finished.wait(timeout: .now() + 5) == .timedOut {
            abortConnection()
            finished.wait()
        }
        finished.signal()
    }

    /// Waits (without blocking a thread) until the mount has ended, by `stop()` or by an outside unmount.
    public func waitUntilStopped() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.ended || !state.started { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Mounts, serves until the mount ends or the task is cancelled, then unmounts.
    public func run() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread {
                continuation.resume(with: Result { try self.start() })
            }.start()
        }
        await withTaskCancellationHandler {
            await waitUntilStopped()
        } onCancel: {
            Thread { self.stop() }.start()
        }
    }

    // MARK: Session

    private func checkMountPoint() throws {
        var information = stat()
        // A server that died with no holder (or whose holder let go) leaves a dead mount, maybe several stacked.
        for _ in 0..<8 where stat(mountPoint, &information) != 0 && errno == ENOTCONN {
            guard detach() else { throw MountError.staleMount(mountPoint) }
            logger.notice("detached a dead mount a previous server left", metadata: ["mountpoint": "\(mountPoint)"])
        }
        if stat(mountPoint, &information) != 0 {
            throw errno == ENOTCONN ? MountError.staleMount(mountPoint) : MountError.mountPointMissing(mountPoint)
        }
        guard information.st_mode & S_IFMT == S_IFDIR else { throw MountError.mountPointNotADirectory(mountPoint) }
    }

    private func makeSession(maxRead: Int) throws -> OpaquePointer {
        var options = ["ro", "fsname=manta", "subtype=manta", "default_permissions", "max_read=\(maxRead)"]
        if configuration.allowOther { options.append("allow_other") }
        let arguments = ["manta", "-o", options.joined(separator: ",")]
        var pointers = arguments.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        // libfuse only mounts: the session's operations are never called.
        var operations = fuse_lowlevel_ops()
        let session = pointers.withUnsafeMutableBufferPointer { argv -> OpaquePointer? in
            var fuseArguments = fuse_args(argc: Int32(argv.count), argv: argv.baseAddress, allocated: 0)
            defer { fuse_opt_free_args(&fuseArguments) }
            return cfuse_session_new(&fuseArguments, &operations, MemoryLayout<fuse_lowlevel_ops>.size, nil)
        }
        guard let session else { throw MountError.sessionCreationFailed(mountPoint) }
        return session
    }

    /// Runs once every reader returned: the kernel no longer sends requests.
    private func finishSession(_ session: Session?) {
        refresherStop.signal()
        fileSystem.notifier.detach()
        endHandover()
        state.withLock { state in
            unmountOnce(&state)
            if let session { fuse_session_destroy(session.pointer) }
            state.session = nil
            // The server (and with it the connection's descriptors) goes; what it negotiated stays on record.
            state.negotiation = state.server?.negotiation
            state.server = nil
        }
        copies.shutdown()
        ownedSource?.shutdown()
        fileSystem.source.flushAccessLog()
        fileSystem.pins.releaseAll()
        let waiters = state.withLock { state in
            state.ended = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        logger.notice("unmounted", metadata: ["mountpoint": "\(mountPoint)"])
        finished.signal()
        for waiter in waiters { waiter.resume() }
    }

    private func unmountOnce(_ state: inout State) {
        guard !state.unmounted else { return }
        state.unmounted = true
        if let session = state.session {
            fuse_session_unmount(session.pointer)
        } else if state.adopted {
            _ = detach()
        }
    }

    /// Detaches the mount at the mount point (lazily: open files keep it until closed).
    private func detach() -> Bool {
        if umount2(mountPoint, Int32(MNT_DETACH)) == 0 { return true }
        // Not root: the setuid helper unmounts what the user mounted.
        let helper = Process()
        helper.executableURL = URL(fileURLWithPath: "/bin/fusermount3")
        helper.arguments = ["-u", "-z", mountPoint]
        helper.standardError = FileHandle.nullDevice
        guard (try? helper.run()) != nil else { return false }
        helper.waitUntilExit()
        return helper.terminationStatus == 0
    }

    /// The mount ends with this process: the holder lets its connection go.
    private func endHandover() {
        let holder = state.withLock { state in
            defer { (state.holder, state.held) = (nil, false) }
            return state.holder
        }
        fileSystem.journal.detach()
        holder?.end()
    }

    /// Unpins at once the models whose files are all closed, and closes the passthrough backings no file has open,
    /// rather than after `MountConfiguration.unpinDelay`: for a collection asked for now (`manta gc`, a Torrent
    /// reclaimed), which should free what nothing reads any more.
    public func releaseClosedModels() {
        letGoOfClosedFiles(closedFor: .zero)
    }

    /// Closes the passthrough backings and unpins the models no file has had open for `delay` (the unpin delay
    /// unless given).
    private func letGoOfClosedFiles(closedFor delay: Duration? = nil) {
        state.withLock { $0.backings }?.closeUnused(closedFor: delay)
        fileSystem.pins.unpinClosedModels(closedFor: delay)
    }

    private func startRefresher() {
        let interval = configuration.refreshInterval
        let thread = Thread { [self] in
            while refresherStop.wait(timeout: .now() + interval) == .timedOut {
                fileSystem.refresh()
                fileSystem.source.flushAccessLog()
                letGoOfClosedFiles()
            }
        }
        thread.name = "manta-fs-refresh"
        thread.start()
    }

    // MARK: Kernel tuning

    /// The FUSE connection number (the minor device number of the mount), for /sys tuning and aborts.
    private func connectionNumber() -> UInt32? {
        var information = stat()
        guard stat(mountPoint, &information) == 0 else { return nil }
        return UInt32(information.st_dev & 0xff) | UInt32((information.st_dev >> 12) & 0xffff_ff00)
    }

    /// FUSE mounts get the kernel's default 128 KiB read-ahead; larger reads make sequential reads much faster.
    private func tuneReadAhead(_ connection: UInt32?) {
        guard let kibibytes = configuration.readAheadKiB, let connection else { return }
        let path = "/sys/class/bdi/0:\(connection)/read_ahead_kb"
        do {
            try "\(kibibytes)".write(toFile: path, atomically: false, encoding: .utf8)
        } catch {
            logger.info("could not raise the mount's read-ahead (needs root)", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    private func abortConnection() {
        guard let connection = state.withLock({ $0.connection }) else { return }
        let directory = "/sys/fs/fuse/connections"
        let path = "\(directory)/\(connection)/abort"
        logger.warning("files are still open after unmounting: aborting the FUSE connection", metadata: ["path": "\(path)"])
        // The control file system is its only way to end a connection that open files keep alive, and minimal
        // hosts and containers do not mount it.
        var mountedControl = false
        if access(path, F_OK) != 0 {
            mountedControl = mount("fusectl", directory, "fusectl", 0, nil) == 0
            if !mountedControl {
                logger.warning(
                    "could not mount the FUSE control file system (needs root): the mount ends when its last open file is closed",
                    metadata: ["path": "\(directory)", "errno": "\(errno)"]
                )
                return
            }
        }
        defer { if mountedControl { umount2(directory, Int32(MNT_DETACH)) } }
        // A plain `write`: control files refuse `pwrite` (ESPIPE), which `FileDescriptor.write` uses.
        let descriptor = open(path, O_WRONLY)
        guard descriptor >= 0, write(descriptor, "1", 1) == 1 else {
            logger.warning(
                "could not abort the FUSE connection: the mount ends when its last open file is closed",
                metadata: ["path": "\(path)", "errno": "\(errno)"])
            if descriptor >= 0 { close(descriptor) }
            return
        }
        close(descriptor)
    }
}
