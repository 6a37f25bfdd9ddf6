import MantaStore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a swarm query or answer that arrived from a peer is refused: the field, and what is wrong with it.
public struct SwarmWireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where in the JSON, such as `chunks["model.safetensors"][3].length`.
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(field) \(problem)" }
}

extension SwarmQuery {
    /// The most files one query may name: a repository with more is not followed through peers (its pull
    /// takes the hub). The query's body is capped too (`maximumEncodedSize`).
    public static let maximumFiles = 16_384

    /// The most bytes of one query's JSON, which the peer server reads before decoding.
    public static let maximumEncodedSize = 1 << 20

    /// The longest repository name or commit a query may give.
    public static let maximumNameLength = 256

    /// A query decoded from a peer's bytes and checked (`validated()`).
    public static func decode(_ bytes: [UInt8]) throws(SwarmWireError) -> SwarmQuery {
        guard bytes.count <= maximumEncodedSize else {
            throw SwarmWireError(field: "query", problem: "is \(bytes.count) bytes, more than the \(maximumEncodedSize) allowed")
        }
        let query: SwarmQuery
        do {
            query = try JSONDecoder().decode(SwarmQuery.self, from: Data(bytes))
        } catch {
            throw SwarmWireError(field: "query", problem: "is not a JSON swarm query {repo, commit, chunkSize, files} (\(error))")
        }
        return try query.validated()
    }

    /// The query itself, once every field is within bounds: names short, file paths safe and few, `seen`
    /// counts not negative (the answer drops that many entries), the chunk size one a store may have.
    public func validated() throws(SwarmWireError) -> SwarmQuery {
        guard repo.utf8.count <= Self.maximumNameLength else {
            throw SwarmWireError(field: "repo", problem: "is longer than \(Self.maximumNameLength) bytes")
        }
        guard commit.utf8.count <= Self.maximumNameLength else {
            throw SwarmWireError(field: "commit", problem: "is longer than \(Self.maximumNameLength) bytes")
        }
        guard chunkSize > 0, chunkSize <= UInt64(ChunkEncoding.maximumChunkSize) else {
            throw SwarmWireError(field: "chunkSize", problem: "\(chunkSize) is outside 1...\(ChunkEncoding.maximumChunkSize)")
        }
        guard files.count <= Self.maximumFiles else {
            throw SwarmWireError(field: "files", problem: "names \(files.count) files, more than \(Self.maximumFiles)")
        }
        for (index, file) in files.enumerated() where !Manifest.isSafeRelativePath(file) {
            throw SwarmWireError(field: "files[\(index)]", problem: "is not a safe relative path")
        }
        if let seen {
            guard seen.count <= files.count else {
                throw SwarmWireError(field: "seen", problem: "has \(seen.count) entries for \(files.count) files")
            }
            for (file, count) in seen where count < 0 {
                throw SwarmWireError(field: "seen[\"\(file)\"]", problem: "is \(count), a negative count")
            }
        }
        return self
    }
}

extension SwarmStatus {
    /// The most chunk entries one answer may carry, over all its files: a peer holding more sends the first
    /// ones, and the asker, which counts what it has `seen`, gets the rest in its next rounds.
    public static let maximumChunks = 16_384

    /// The most bytes of one answer's JSON (`maximumChunks` entries take about 2.5 MB).
    public static let maximumEncodedSize = 8 << 20

    /// The longest node identity an answer may give (agents send a UUID).
    public static let maximumNodeLength = 128

    /// `pullingSince` later than this (seconds since 1970, the year 5138) is no time a pull started.
    public static let latestStart: Double = 1e11

    /// A `receiveRate` above this (bytes per second, 10 TB/s) is no rate a node reached.
    public static let fastestReceiveRate: Double = 1e13

    /// An answer to `query` decoded from a peer's bytes and checked (`validated(for:maximumChunkSize:fileSizes:)`).
    public static func decode(
        _ bytes: [UInt8], answering query: SwarmQuery, maximumChunkSize: UInt64, fileSizes: [String: UInt64]? = nil
    ) throws(SwarmWireError) -> SwarmStatus {
        guard bytes.count <= maximumEncodedSize else {
            throw SwarmWireError(field: "answer", problem: "is \(bytes.count) bytes, more than the \(maximumEncodedSize) allowed")
        }
        let status: SwarmStatus
        do {
            status = try JSONDecoder().decode(SwarmStatus.self, from: Data(bytes))
        } catch {
            throw SwarmWireError(field: "answer", problem: "is not a JSON swarm status (\(error))")
        }
        return try status.validated(for: query, maximumChunkSize: maximumChunkSize, fileSizes: fileSizes)
    }

    /// The answer itself, once every number in it can be believed: chunks only for files the query named,
    /// at most `maximumChunks` of them, each non-empty, no longer than `maximumChunkSize`, and ending within
    /// its file (within `fileSizes[file]` when known, else `Manifest.maximumLogicalSize`) without overflow;
    /// `pullingSince` a finite time in 0...`latestStart`; `receiveRate` a finite rate in 0...`fastestReceiveRate`; a
    /// short node identity.
    public func validated(for query: SwarmQuery, maximumChunkSize: UInt64, fileSizes: [String: UInt64]? = nil) throws(SwarmWireError) -> SwarmStatus {
        if let node, node.utf8.count > Self.maximumNodeLength {
            throw SwarmWireError(field: "node", problem: "is longer than \(Self.maximumNodeLength) bytes")
        }
        if let pullingSince, !(pullingSince.isFinite && pullingSince >= 0 && pullingSince <= Self.latestStart) {
            throw SwarmWireError(field: "pullingSince", problem: "\(pullingSince) is not a time in 0...\(Self.latestStart) seconds since 1970")
        }
        if let receiveRate, !(receiveRate.isFinite && receiveRate >= 0 && receiveRate <= Self.fastestReceiveRate) {
            throw SwarmWireError(
                field: "receiveRate", problem: "\(receiveRate) is not a rate in 0...\(Self.fastestReceiveRate) bytes per second")
        }
        let asked = Set(query.files)
        var count = 0
        for (file, chunks) in chunks {
            guard asked.contains(file) else { throw SwarmWireError(field: "chunks[\"\(file)\"]", problem: "is for a file the query did not name") }
            count += chunks.count
            guard count <= Self.maximumChunks else { throw SwarmWireError(field: "chunks", problem: "holds more than \(Self.maximumChunks) entries") }
            let size = min(fileSizes?[file] ?? Manifest.maximumLogicalSize, Manifest.maximumLogicalSize)
            for (index, chunk) in chunks.enumerated() {
                let field = "chunks[\"\(file)\"][\(index)]"
                guard chunk.length > 0, chunk.length <= maximumChunkSize else {
                    throw SwarmWireError(field: field + ".length", problem: "\(chunk.length) is outside 1...\(maximumChunkSize)")
                }
                // Subtracting from the bound, never adding to the offset: `offset + length` cannot overflow past here.
                guard chunk.length <= size, chunk.offset <= size - chunk.length else {
                    throw SwarmWireError(
                        field: field + ".offset", problem: "\(chunk.offset) with length \(chunk.length) ends past the \(size)-byte file")
                }
            }
        }
        return self
    }
}
