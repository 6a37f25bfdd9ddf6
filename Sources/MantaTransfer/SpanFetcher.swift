import MantaStore

/// Reads byte ranges of a source file whose chunk ids are not known yet (a registered model): the bytes are
/// checked by the caller, against the whole file's SHA-256, once every chunk of the file is in.
public protocol SpanFetcher: Sendable {
    /// Reads the consecutive `spans` of `path` from `source` with one ranged request (retrying as the source
    /// allows) and hands each span's bytes to `each`, in order, as soon as they are all in. Throws an error that
    /// names the source and says what to do when the bytes cannot be had.
    func fetch(
        _ spans: [ChunkSpan],
        of path: String,
        from source: Manifest.Source,
        priority: FetchPriority,
        each: @escaping @Sendable (Int, [UInt8]) async throws -> Void
    ) async throws
}
