#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Per-store settings, kept in `<root>/config.json` so every process that opens the store agrees.
public struct StoreConfiguration: Hashable, Sendable, Codable {
    /// How new chunks are stored; each is stored compressed only when that saves at least 8%.
    public enum Compression: String, Hashable, Sendable, Codable, CaseIterable {
        case none
        /// zstd level 3.
        case zstd
        /// The smaller of zstd and, for chunks of even length, zstd over the low and high bytes of 2-byte
        /// elements apart (BF16/FP16 tensors: see `ByteGroupedFrame`).
        case zstdBytegroup = "zstd-bytegroup"
    }

    public var compression: Compression
    public var chunkSize: UInt64
    /// Bytes the chunks may take on disk; nil for no limit.
    public var quotaBytes: UInt64?
    /// Eviction starts above this fraction of the quota...
    public var highWatermark: Double
    /// ...and stops at this one.
    public var lowWatermark: Double

    public init(
        compression: Compression = .none,
        chunkSize: UInt64 = ChunkingParameters.defaultTargetSize,
        quotaBytes: UInt64? = nil,
        highWatermark: Double = 0.9,
        lowWatermark: Double = 0.8
    ) {
        self.compression = compression
        self.chunkSize = chunkSize
        self.quotaBytes = quotaBytes
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
    }

    public var chunking: ChunkingParameters { ChunkingParameters(targetSize: chunkSize) }

    func validate() throws {
        guard chunkSize >= 64 << 10, chunkSize <= 64 << 20 else {
            throw StoreError.invalidConfiguration("chunk size \(chunkSize) is outside 64 KiB...64 MiB")
        }
        guard lowWatermark > 0, lowWatermark <= highWatermark, highWatermark <= 1 else {
            throw StoreError.invalidConfiguration("watermarks must satisfy 0 < low (\(lowWatermark)) <= high (\(highWatermark)) <= 1")
        }
    }
}

/// Changes to apply to a store's saved configuration when opening it.
public struct StoreConfigurationChanges: Sendable {
    public var compression: StoreConfiguration.Compression?
    public var chunkSize: UInt64?
    public var quotaBytes: UInt64?
    public var highWatermark: Double?
    public var lowWatermark: Double?

    public init(
        compression: StoreConfiguration.Compression? = nil, chunkSize: UInt64? = nil, quotaBytes: UInt64? = nil,
        highWatermark: Double? = nil, lowWatermark: Double? = nil
    ) {
        self.compression = compression
        self.chunkSize = chunkSize
        self.quotaBytes = quotaBytes
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
    }

    var isEmpty: Bool { compression == nil && chunkSize == nil && quotaBytes == nil && highWatermark == nil && lowWatermark == nil }

    func applied(to configuration: StoreConfiguration) -> StoreConfiguration {
        var changed = configuration
        if let compression { changed.compression = compression }
        if let chunkSize { changed.chunkSize = chunkSize }
        if let quotaBytes { changed.quotaBytes = quotaBytes == 0 ? nil : quotaBytes }
        if let highWatermark { changed.highWatermark = highWatermark }
        if let lowWatermark { changed.lowWatermark = lowWatermark }
        return changed
    }
}
