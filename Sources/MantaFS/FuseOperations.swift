import CFuse
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Answers each FUSE request from the `ModelFileSystem`. Everything that writes answers EROFS, operations the
/// mount does not implement ENOSYS (the kernel then stops asking, or does the work itself).
final class FuseOperations: Sendable {
    private struct Settings {
        var maxRead = Int(FuseWishes.basicPages) * 4096
        var passthrough = false
        var channel: FuseChannel?
    }

    let fileSystem: ModelFileSystem
    private let files = HandleTable<OpenFile>()
    private let directories = HandleTable<DirectoryHandle>()
    private let backings: PassthroughBackings?
    private let settings = Mutex(Settings())
    private let logger: Logger

    init(fileSystem: ModelFileSystem, backings: PassthroughBackings?, logger: Logger) {
        self.fileSystem = fileSystem
        self.backings = backings
        self.logger = logger
    }

    /// Applies what INIT agreed on; `channel` carries the connection's ioctls (backing files).
    func configure(_ negotiation: FuseNegotiation, channel: FuseChannel) {
        settings.withLock { settings in
            settings.maxRead = Int(negotiation.maxPages) * Int(getpagesize())
            settings.passthrough = negotiation.passthrough
            settings.channel = channel
        }
    }

    /// Opens again what a previous server of the kernel connection had open, under the same handles.
    func adopt(_ journal: MountJournal, channel: FuseChannel) {
        var opened: [UInt64: Int] = [:]
        for (handle, record) in journal.files {
            switch fileSystem.open(record.inode, flags: record.flags) {
            case .success(let file):
                files.restore(file, at: handle)
                opened[record.inode, default: 0] += 1
            case .failure(let error):
                logger.warning(
                    "a file open in the previous server is gone: its reads fail",
                    metadata: ["inode": "\(record.inode)", "errno": "\(error.rawValue)"])
            }
        }
        for (handle, inode) in journal.directories {
            if case .success(let directory) = fileSystem.openDirectory(inode) { directories.restore(directory, at: handle) }
        }
        backings?.adopt(journal.backings, openCounts: opened, channel: channel)
    }

    private static let writingOpcodes: Set<UInt32> = [
        FUSE_SETATTR, FUSE_SYMLINK, FUSE_MKNOD, FUSE_MKDIR, FUSE_UNLINK, FUSE_RMDIR, FUSE_RENAME, FUSE_LINK, FUSE_WRITE,
        FUSE_SETXATTR, FUSE_REMOVEXATTR, FUSE_CREATE, FUSE_FALLOCATE, FUSE_RENAME2, FUSE_COPY_FILE_RANGE, FUSE_TMPFILE,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    func handle(_ request: FuseRequest, _ reply: FuseReply) {
        var arguments = request.arguments
        switch fuse_opcode(rawValue: request.opcode) {
        case FUSE_LOOKUP:
            guard let name = arguments.takeName() else { return reply.fail(ENOENT) }
            lookup(parent: request.node, name: name, reply)
        case FUSE_FORGET:
            // No answer: the kernel does not wait for forgets.
            if let forget = arguments.take(fuse_forget_in.self) { fileSystem.forget(request.node, count: forget.nlookup) }
        case FUSE_BATCH_FORGET:
            guard let batch = arguments.take(fuse_batch_forget_in.self) else { return }
            for _ in 0..<batch.count {
                guard let forget = arguments.take(fuse_forget_one.self) else { break }
                fileSystem.forget(forget.nodeid, count: forget.nlookup)
            }
        case FUSE_GETATTR:
            guard let (attributes, timeout) = fileSystem.attributes(of: request.node) else { return reply.fail(ENOENT) }
            var output = fuse_attr_out()
            (output.attr_valid, output.attr_valid_nsec) = Self.split(timeout)
            output.attr = Self.attributes(attributes)
            reply.send(output)
        case FUSE_OPEN:
            guard let input = arguments.take(fuse_open_in.self) else { return reply.fail(EINVAL) }
            open(request.node, flags: Int32(bitPattern: input.flags), reply)
        case FUSE_READ:
            guard let input = arguments.take(fuse_read_in.self) else { return reply.fail(EINVAL) }
            read(input, reply)
        case FUSE_RELEASE:
            if let input = arguments.take(fuse_release_in.self), let file = files.remove(input.fh) {
                fileSystem.journal.record(.released(handle: input.fh))
                fileSystem.release(file)
                if settings.withLock({ $0.passthrough }) { backings?.release(file) }
            }
            reply.succeed()
        case FUSE_OPENDIR:
            openDirectory(request.node, reply)
        case FUSE_READDIR:
            guard let input = arguments.take(fuse_read_in.self) else { return reply.fail(EINVAL) }
            guard let handle = directories.value(input.fh) else { return reply.fail(EBADF) }
            readDirectory(handle, offset: input.offset, size: min(Int(input.size), settings.withLock { $0.maxRead }), reply)
        case FUSE_RELEASEDIR:
            if let input = arguments.take(fuse_release_in.self), directories.remove(input.fh) != nil {
                fileSystem.journal.record(.releasedDirectory(handle: input.fh))
            }
            reply.succeed()
        case FUSE_STATFS:
            reply.send(fuse_statfs_out(st: Self.statistics(fileSystem.statistics())))
        case FUSE_ACCESS:
            guard let input = arguments.take(fuse_access_in.self) else { return reply.fail(EINVAL) }
            if input.mask & UInt32(W_OK) != 0 { reply.fail(EROFS) } else { reply.succeed() }
        case FUSE_FLUSH:
            // A kernel that does not know FOPEN_NOFLUSH sends one on every close: ENOSYS tells it to stop.
            reply.fail(ENOSYS)
        case FUSE_DESTROY:
            reply.succeed()
        case FUSE_LSEEK:
            guard let input = arguments.take(fuse_lseek_in.self) else { return reply.fail(EINVAL) }
            seek(input, reply)
        case FUSE_INTERRUPT:
            // Reads are not abandoned half-way; ENOSYS tells the kernel to stop sending interrupts.
            reply.fail(ENOSYS)
        case FUSE_GETXATTR, FUSE_LISTXATTR:
            reply.fail(ENOSYS)
        default:
            reply.fail(Self.writingOpcodes.contains(request.opcode) ? EROFS : ENOSYS)
        }
    }

    // MARK: Names and attributes

    private func lookup(parent: UInt64, name: String, _ reply: FuseReply) {
        switch fileSystem.lookup(parent: parent, name: name) {
        case .success(let entry):
            var output = fuse_entry_out()
            output.nodeid = entry.inode
            (output.entry_valid, output.entry_valid_nsec) = Self.split(entry.entryTimeout)
            (output.attr_valid, output.attr_valid_nsec) = Self.split(entry.attributeTimeout)
            output.attr = Self.attributes(entry.attributes)
            reply.send(output)
        case .failure(let error):
            reply.fail(error.rawValue)
        }
    }

    static func split(_ seconds: Double) -> (UInt64, UInt32) {
        let bounded = min(max(seconds, 0), Double(UInt32.max))
        let whole = bounded.rounded(.down)
        return (UInt64(whole), UInt32(min(999_999_999, (bounded - whole) * 1e9)))
    }

    static func attributes(_ information: stat) -> fuse_attr {
        var attributes = fuse_attr()
        attributes.ino = UInt64(information.st_ino)
        attributes.size = UInt64(information.st_size)
        attributes.blocks = UInt64(information.st_blocks)
        attributes.atime = UInt64(information.st_atim.tv_sec)
        attributes.atimensec = UInt32(information.st_atim.tv_nsec)
        attributes.mtime = UInt64(information.st_mtim.tv_sec)
        attributes.mtimensec = UInt32(information.st_mtim.tv_nsec)
        attributes.ctime = UInt64(information.st_ctim.tv_sec)
        attributes.ctimensec = UInt32(information.st_ctim.tv_nsec)
        attributes.mode = information.st_mode
        attributes.nlink = UInt32(information.st_nlink)
        attributes.uid = information.st_uid
        attributes.gid = information.st_gid
        attributes.blksize = UInt32(information.st_blksize)
        return attributes
    }

    private static func statistics(_ statistics: statvfs) -> fuse_kstatfs {
        var output = fuse_kstatfs()
        output.blocks = UInt64(statistics.f_blocks)
        output.files = UInt64(statistics.f_files)
        output.bsize = UInt32(statistics.f_bsize)
        output.frsize = UInt32(statistics.f_frsize)
        output.namelen = UInt32(statistics.f_namemax)
        return output
    }

    // MARK: Files

    private func open(_ inode: UInt64, flags: Int32, _ reply: FuseReply) {
        switch fileSystem.open(inode, flags: flags) {
        case .success(let file):
            let (passthrough, channel) = settings.withLock { ($0.passthrough, $0.channel) }
            var output = cfuse_open_out()
            // Nothing is written through the mount, so a close has nothing to flush: without FOPEN_NOFLUSH every
            // close(2) would wait for a FLUSH round trip to this server.
            output.open_flags = UInt32(FOPEN_NOFLUSH)
            if passthrough, let channel, let backings, let backingID = backings.open(file, channel: channel) {
                output.open_flags |= CFUSE_FOPEN_PASSTHROUGH
                output.backing_id = backingID
            } else {
                output.open_flags |= UInt32(FOPEN_KEEP_CACHE)
            }
            output.fh = files.insert(file)
            fileSystem.journal.record(.opened(handle: output.fh, file: .init(inode: inode, flags: flags)))
            reply.send(output)
        case .failure(let error):
            reply.fail(error.rawValue)
        }
    }

    private func read(_ input: fuse_read_in, _ reply: FuseReply) {
        guard let file = files.value(input.fh) else { return reply.fail(EBADF) }
        let size = min(Int(input.size), settings.withLock { $0.maxRead })
        if case .text(let bytes) = file.content {
            let start = Int(min(UInt64(bytes.count), input.offset))
            let end = min(bytes.count, start + size)
            return bytes[start..<end].withUnsafeBytes { reply.send(bytes: $0) }
        }
        fileSystem.read(file, offset: input.offset, size: size) { result in
            switch result {
            case .success(let slices): FuseReadReply.send(reply, slices)
            case .failure(let error): reply.fail(error.errno)
            }
        }
    }

    /// Files have no holes: data runs from 0 to the end.
    private func seek(_ input: fuse_lseek_in, _ reply: FuseReply) {
        guard let file = files.value(input.fh) else { return reply.fail(EBADF) }
        let size = fileSystem.node(file.inode)?.size ?? 0
        guard input.offset < size else { return reply.fail(ENXIO) }
        switch Int32(bitPattern: input.whence) {
        case CFUSE_SEEK_DATA: reply.send(fuse_lseek_out(offset: input.offset))
        case CFUSE_SEEK_HOLE: reply.send(fuse_lseek_out(offset: size))
        default: reply.fail(EINVAL)
        }
    }

    // MARK: Folders

    private func openDirectory(_ inode: UInt64, _ reply: FuseReply) {
        switch fileSystem.openDirectory(inode) {
        case .success(let handle):
            var output = cfuse_open_out()
            output.fh = directories.insert(handle)
            fileSystem.journal.record(.openedDirectory(handle: output.fh, inode: inode))
            if handle.cacheable { output.open_flags = UInt32(FOPEN_CACHE_DIR | FOPEN_KEEP_CACHE) }
            reply.send(output)
        case .failure(let error):
            reply.fail(error.rawValue)
        }
    }

    /// Entries from `offset` (an index into the folder as opened) that fit in `size` bytes.
    private func readDirectory(_ handle: DirectoryHandle, offset: UInt64, size: Int, _ reply: FuseReply) {
        var buffer: [UInt8] = []
        var index = Int(min(offset, UInt64(handle.entries.count)))
        while index < handle.entries.count {
            let entry = handle.entries[index]
            let name = Array(entry.name.utf8)
            let nameOffset = MemoryLayout<fuse_dirent>.size
            let recordLength = (nameOffset + name.count + 7) & ~7
            guard buffer.count + recordLength <= size else { break }
            var dirent = fuse_dirent()
            dirent.ino = entry.inode
            dirent.off = UInt64(index + 1)
            dirent.namelen = UInt32(name.count)
            dirent.type = UInt32(entry.isDirectory ? DT_DIR : DT_REG)
            withUnsafeBytes(of: &dirent) { buffer.append(contentsOf: $0.prefix(nameOffset)) }
            buffer.append(contentsOf: name)
            buffer.append(contentsOf: repeatElement(0, count: recordLength - nameOffset - name.count))
            index += 1
        }
        buffer.withUnsafeBytes { reply.send(bytes: $0) }
    }
}
