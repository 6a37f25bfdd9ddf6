import CSHA256

extension ChunkPairHasher {
    /// The SHA-256 of a whole file, hashed alone in 1 MiB mapped windows, or nil once `cancelled` says so.
    static func hashFile(
        _ input: borrowing FileDescriptor, path: String, size: UInt64, interleaving: Bool = interleaves, cancelled: () -> Bool
    ) throws -> Digest? {
        let windows = stride(from: 0, to: size, by: Int(windowBytes)).map { ChunkSpan(offset: $0, length: min(windowBytes, size - $0)) }
        return try hashFile(size: size, segments: windows, chunkIDs: false, interleaving: interleaving, cancelled: cancelled) { index, preceding in
            try FileMapping(input, path: path, offset: windows[index].offset, length: Int(windows[index].length), preceding: preceding)
        } segmentDone: { _, _, _ in
        }
    }

    /// A multiple of 64 bytes, so only the last window has a partial block.
    static let windowBytes: UInt64 = 1 << 20

    /// Hashes a whole file in order, segment by segment, and returns its SHA-256, or nil once `cancelled` says so.
    /// `segments` must tile the file in order; `load(index, preceding)` gives segment `index` with the `preceding`
    /// bytes before it (the partial block the file's hash carries over: the segment's offset modulo 64).
    ///
    /// With `chunkIDs`, each segment is a chunk whose id comes from the same pass over the same bytes: the file's
    /// hash and the chunk's are the two messages of one core's pair, so a new file is read once and costs one core
    /// about 1.1 times one hash, where a whole-file hash beside the chunk lanes cost two. `segmentDone` gets each
    /// chunk and its id in order. Throws the chunk's `shrank()` for a file that shrank under a mapping.
    static func hashFile(
        size: UInt64,
        segments: [ChunkSpan],
        chunkIDs: Bool,
        interleaving: Bool = interleaves,
        cancelled: () -> Bool,
        load: (_ index: Int, _ preceding: Int) throws -> FileMapping,
        segmentDone: (_ index: Int, _ segment: FileMapping, _ id: Digest) throws -> Void
    ) throws -> Digest? {
        guard interleaving else {
            var file = SHA256Hasher()
            for index in segments.indices {
                guard !cancelled() else { return nil }
                let segment = try load(index, 0)
                var chunk = SHA256Hasher()
                try segment.forEachPiece { piece in
                    file.update(piece)
                    if chunkIDs { chunk.update(piece) }
                }
                if chunkIDs { try segmentDone(index, segment, chunk.finalize()) }
            }
            return file.finalize()
        }
        var file = csha256_state()
        csha256_begin(&file)
        var fileHashed: UInt64 = 0
        var digest = [UInt8](repeating: 0, count: 32)
        for (index, span) in segments.enumerated() {
            guard !cancelled() else { return nil }
            let segment = try load(index, Int(span.offset - fileHashed))
            guard let fileNext = segment.extended.baseAddress?.assumingMemoryBound(to: UInt8.self) else { continue }
            let fileBlocks = segment.extended.count / 64
            if chunkIDs {
                let chunkNext = fileNext + (segment.extended.count - segment.bytes.count)
                let chunkBlocks = segment.bytes.count / 64
                let paired = min(fileBlocks, chunkBlocks)
                var chunk = csha256_state()
                csha256_begin(&chunk)
                guard csha256_blocks_pair(&file, fileNext, &chunk, chunkNext, paired) == 0,
                    csha256_blocks(&file, fileNext + 64 * paired, fileBlocks - paired) == 0,
                    csha256_blocks(&chunk, chunkNext + 64 * paired, chunkBlocks - paired) == 0,
                    csha256_end(&chunk, chunkNext + 64 * chunkBlocks, segment.bytes.count % 64, span.length, &digest) == 0
                else { throw segment.shrank() }
                try segmentDone(index, segment, Digest(bytes: digest))
            } else {
                guard csha256_blocks(&file, fileNext, fileBlocks) == 0 else { throw segment.shrank() }
            }
            fileHashed += UInt64(64 * fileBlocks)
            if span.end == size {
                guard csha256_end(&file, fileNext + 64 * fileBlocks, segment.extended.count % 64, size, &digest) == 0 else { throw segment.shrank() }
                return Digest(bytes: digest)
            }
        }
        return size == 0 ? SHA256Hasher.hash([]) : nil
    }
}
