import CFuse
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The libfuse low-level callbacks: each finds the `ModelFileSystem` in the request's user data and answers.
/// Everything that writes answers EROFS.
enum FuseOperations {
    static func table() -> fuse_lowlevel_ops {
        var operations = fuse_lowlevel_ops()
        operations.`init` = { userData, connection in
            guard let connection else { return }
            // Must equal the max_read mount option (libfuse checks).
            connection.pointee.max_read = UInt32(MountService.maximumRead)
        }
        operations.lookup = { request, parent, name in
            guard let name else { return FuseOperations.reply(request, error: ENOENT) }
            switch FuseOperations.fileSystem(request).lookup(parent: parent, name: String(cString: name)) {
            case .success(let entry):
                var parameters = fuse_entry_param()
                parameters.ino = entry.inode
                parameters.attr = entry.attributes
                parameters.attr_timeout = entry.attributeTimeout
                parameters.entry_timeout = entry.entryTimeout
                fuse_reply_entry(request, &parameters)
            case .failure(let error):
                FuseOperations.reply(request, error: error.rawValue)
            }
        }
        operations.forget = { request, inode, count in
            FuseOperations.fileSystem(request).forget(inode, count: count)
            fuse_reply_none(request)
        }
        operations.forget_multi = { request, count, forgets in
            let fileSystem = FuseOperations.fileSystem(request)
            for index in 0..<count {
                guard let forget = forgets?[index] else { continue }
                fileSystem.forget(forget.ino, count: forget.nlookup)
            }
            fuse_reply_none(request)
        }
        operations.getattr = { request, inode, _ in
            guard let (attributes, timeout) = FuseOperations.fileSystem(request).attributes(of: inode) else { return FuseOperations.reply(request, error: ENOENT) }
            var copy = attributes
            fuse_reply_attr(request, &copy, timeout)
        }
        operations.opendir = { request, inode, info in
            guard let info else { return FuseOperations.reply(request, error: EIO) }
            switch FuseOperations.fileSystem(request).openDirectory(inode) {
            case .success(let handle):
                info.pointee.fh = UInt64(UInt(bitPattern: Unmanaged.passRetained(handle).toOpaque()))
                cfuse_file_info_set_cache_readdir(info, handle.cacheable ? 1 : 0)
                cfuse_file_info_set_cached(info, handle.cacheable ? 1 : 0)
                fuse_reply_open(request, info)
            case .failure(let error):
                FuseOperations.reply(request, error: error.rawValue)
            }
        }
        operations.readdir = { request, _, size, offset, info in
            guard let info, let handle = FuseOperations.directoryHandle(info) else { return FuseOperations.reply(request, error: EBADF) }
            FuseOperations.readDirectory(request, handle.takeUnretainedValue(), size: size, offset: offset)
        }
        operations.releasedir = { request, _, info in
            if let info { FuseOperations.directoryHandle(info)?.release() }
            FuseOperations.reply(request, error: 0)
        }
        operations.open = { request, inode, info in
            guard let info else { return FuseOperations.reply(request, error: EIO) }
            switch FuseOperations.fileSystem(request).open(inode, flags: info.pointee.flags) {
            case .success(let file):
                info.pointee.fh = UInt64(UInt(bitPattern: Unmanaged.passRetained(file).toOpaque()))
                cfuse_file_info_set_cached(info, 1)
                fuse_reply_open(request, info)
            case .failure(let error):
                FuseOperations.reply(request, error: error.rawValue)
            }
        }
        operations.read = { request, _, size, offset, info in
            guard let info, let file = FuseOperations.openFile(info)?.takeUnretainedValue() else { return FuseOperations.reply(request, error: EBADF) }
            if case .text(let bytes) = file.content {
                return FuseOperations.replyText(request, bytes, size: size, offset: offset)
            }
            let box = RequestBox(request: request)
            FuseOperations.fileSystem(request).read(file, offset: UInt64(max(0, offset)), size: size) { result in
                switch result {
                case .success(let slices): FuseReadReply.send(box.request, slices)
                case .failure(let error): FuseOperations.reply(box.request, error: error.errno)
                }
            }
        }
        operations.release = { request, _, info in
            if let info, let file = FuseOperations.openFile(info) {
                FuseOperations.fileSystem(request).release(file.takeUnretainedValue())
                file.release()
            }
            FuseOperations.reply(request, error: 0)
        }
        operations.statfs = { request, _ in
            var statistics = FuseOperations.fileSystem(request).statistics()
            fuse_reply_statfs(request, &statistics)
        }
        operations.setattr = { request, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.mknod = { request, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.mkdir = { request, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.unlink = { request, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.rmdir = { request, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.symlink = { request, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.rename = { request, _, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.link = { request, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.write = { request, _, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.create = { request, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.setxattr = { request, _, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.removexattr = { request, _, _ in FuseOperations.reply(request, error: EROFS) }
        operations.fallocate = { request, _, _, _, _, _ in FuseOperations.reply(request, error: EROFS) }
        return operations
    }

    /// Carries a request pointer to the thread that completes it (libfuse allows replying from any thread).
    struct RequestBox: @unchecked Sendable {
        let request: OpaquePointer?
    }

    private static func fileSystem(_ request: OpaquePointer?) -> ModelFileSystem {
        // libfuse hands every request the user data given to fuse_session_new: the retained ModelFileSystem.
        Unmanaged<ModelFileSystem>.fromOpaque(fuse_req_userdata(request)!).takeUnretainedValue()
    }

    private static func openFile(_ info: UnsafeMutablePointer<fuse_file_info>) -> Unmanaged<OpenFile>? {
        guard let pointer = UnsafeRawPointer(bitPattern: UInt(info.pointee.fh)) else { return nil }
        return Unmanaged<OpenFile>.fromOpaque(pointer)
    }

    private static func directoryHandle(_ info: UnsafeMutablePointer<fuse_file_info>) -> Unmanaged<DirectoryHandle>? {
        guard let pointer = UnsafeRawPointer(bitPattern: UInt(info.pointee.fh)) else { return nil }
        return Unmanaged<DirectoryHandle>.fromOpaque(pointer)
    }

    private static func reply(_ request: OpaquePointer?, error: Int32) {
        fuse_reply_err(request, error)
    }

    private static func readDirectory(_ request: OpaquePointer?, _ handle: DirectoryHandle, size: Int, offset: off_t) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 8)
        defer { buffer.deallocate() }
        var used = 0
        var index = max(0, Int(offset))
        while index < handle.entries.count {
            let entry = handle.entries[index]
            var attributes = stat()
            attributes.st_ino = ino_t(entry.inode)
            attributes.st_mode = entry.isDirectory ? S_IFDIR : S_IFREG
            let needed = entry.name.withCString { name in
                fuse_add_direntry(request, buffer.baseAddress!.assumingMemoryBound(to: CChar.self) + used, size - used, name, &attributes, off_t(index + 1))
            }
            guard used + needed <= size else { break }
            used += needed
            index += 1
        }
        fuse_reply_buf(request, buffer.baseAddress!.assumingMemoryBound(to: CChar.self), used)
    }

    private static func replyText(_ request: OpaquePointer?, _ bytes: [UInt8], size: Int, offset: off_t) {
        let start = min(bytes.count, max(0, Int(offset)))
        let end = min(bytes.count, start + size)
        bytes[start..<end].withUnsafeBytes { slice in
            _ = fuse_reply_buf(request, slice.baseAddress?.assumingMemoryBound(to: CChar.self), slice.count)
        }
    }
}

/// Sends the bytes of a read in one `writev` to the FUSE device, straight from the chunks' mappings and decoded
/// buffers: the kernel copies each byte once, into the mount's page cache. (Splicing the chunk files through a
/// pipe costs the same copy, but a pipe holds at most `/proc/sys/fs/pipe-max-size`, 1 MiB by default, which caps
/// reads below the 1 MiB a FUSE request can carry; and replies of exactly that size spliced slower than these.)
enum FuseReadReply {
    static func send(_ request: OpaquePointer?, _ slices: [ModelFileSystem.ReadSlice]) {
        var vectors: [iovec] = []
        vectors.reserveCapacity(slices.count)
        withVectors(slices[...], &vectors) { vectors in
            _ = fuse_reply_iov(request, vectors, Int32(vectors.count))
        }
    }

    /// Calls `body` with an iovec per slice, each valid only inside the call.
    private static func withVectors(_ slices: ArraySlice<ModelFileSystem.ReadSlice>, _ vectors: inout [iovec], _ body: ([iovec]) -> Void) {
        guard let slice = slices.first else { return body(vectors) }
        let rest = slices.dropFirst()
        switch slice.data {
        case .file(let file):
            withExtendedLifetime(file) {
                vectors.append(iovec(slice, in: file.bytes))
                withVectors(rest, &vectors, body)
            }
        case .memory(let decoded):
            decoded.bytes.withUnsafeBytes { bytes in
                vectors.append(iovec(slice, in: bytes))
                withVectors(rest, &vectors, body)
            }
        }
    }
}

private extension iovec {
    init(_ slice: ModelFileSystem.ReadSlice, in bytes: UnsafeRawBufferPointer) {
        self.init(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress.map { $0 + Int(slice.offset) }), iov_len: slice.count)
    }
}
