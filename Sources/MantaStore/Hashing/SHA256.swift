import COpenSSL
import CSHA256

/// Streaming SHA-256: on the CPU's SHA extensions where present (`CSHA256`), else over OpenSSL's EVP interface.
/// Both reach the same speed; the extensions' path also spares a short command OpenSSL's start-up (it reads its
/// configuration file on first use), about a millisecond of a small model's import.
public struct SHA256Hasher: ~Copyable {
    enum Engine: Sendable {
        case shaExtensions
        case openSSL

        /// The SHA extensions when this CPU has them.
        static let fastest: Engine = csha256_supported() == 1 ? .shaExtensions : .openSSL
    }

    /// OpenSSL's context, or nil on the SHA extensions.
    private let context: OpaquePointer?
    private var state = csha256_state()
    /// The bytes of a block not yet complete.
    private var pending: [UInt8] = []
    private var length: UInt64 = 0
    /// Where whole blocks meet other threads' blocks to be hashed in pairs; nil: alone.
    private let pairing: HashPairing?

    public init() {
        self.init(engine: .fastest)
    }

    /// A hash whose blocks are hashed beside other threads' through `pairing`: for threads that may block.
    public init(pairing: HashPairing) {
        self.init(engine: .fastest, pairing: pairing)
    }

    init(engine: Engine, pairing: HashPairing? = nil) {
        self.pairing = pairing
        switch engine {
        case .shaExtensions:
            context = nil
            csha256_begin(&state)
            pending.reserveCapacity(Self.blockBytes)
        case .openSSL:
            context = EVP_MD_CTX_new()
            EVP_DigestInit_ex(context, EVP_sha256(), nil)
        }
    }

    deinit { if let context { EVP_MD_CTX_free(context) } }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        if let context {
            EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
            return
        }
        length += UInt64(bytes.count)
        var rest = bytes
        if !pending.isEmpty {
            let taken = min(Self.blockBytes - pending.count, rest.count)
            pending.append(contentsOf: rest.prefix(taken))
            rest = UnsafeRawBufferPointer(rebasing: rest.dropFirst(taken))
            guard pending.count == Self.blockBytes else { return }
            pending.withUnsafeBytes { Self.hashBlocks($0, into: &state) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = rest.count / Self.blockBytes * Self.blockBytes
        if let pairing, whole > 0, let base = rest.baseAddress?.assumingMemoryBound(to: UInt8.self) {
            Self.expectNoFault(pairing.hashBlocks(&state, base, whole / Self.blockBytes))
        } else {
            Self.hashBlocks(UnsafeRawBufferPointer(rebasing: rest.prefix(whole)), into: &state)
        }
        pending.append(contentsOf: rest.dropFirst(whole))
    }

    /// What `bytes` more would make of this hash, with the bytes' own SHA-256, from one pass over them: on the SHA
    /// extensions, the two messages share one core's pair (`ChunkPairHasher`), about 0.6–0.9 of one hash after
    /// the other. The hash is unchanged until `apply`.
    public func advance(over bytes: UnsafeRawBufferPointer) -> Advance {
        // Where a partial block is pending, the bytes complete it first: the hash's blocks then start that far in.
        let fill = pending.isEmpty ? 0 : Self.blockBytes - pending.count
        guard context == nil, bytes.count >= fill, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return Advance(digest: Self.hash(bytes), paired: nil)
        }
        var file = state
        if fill > 0 {
            let block = pending + UnsafeRawBufferPointer(rebasing: bytes[..<fill])
            block.withUnsafeBytes { Self.hashBlocks($0, into: &file) }
        }
        var chunk = csha256_state()
        csha256_begin(&chunk)
        let fileBlocks = (bytes.count - fill) / Self.blockBytes
        let chunkBlocks = bytes.count / Self.blockBytes
        let paired = min(fileBlocks, chunkBlocks)
        let fileNext = base + fill
        Self.expectNoFault(csha256_blocks_pair(&file, fileNext, &chunk, base, paired))
        Self.expectNoFault(csha256_blocks(&file, fileNext + Self.blockBytes * paired, fileBlocks - paired))
        Self.expectNoFault(csha256_blocks(&chunk, base + Self.blockBytes * paired, chunkBlocks - paired))
        var digest = [UInt8](repeating: 0, count: 32)
        let chunkTail = Self.blockBytes * chunkBlocks
        Self.expectNoFault(csha256_end(&chunk, base + chunkTail, bytes.count - chunkTail, UInt64(bytes.count), &digest))
        let tail = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[(fill + Self.blockBytes * fileBlocks)...]))
        return Advance(digest: Digest(bytes: digest), paired: (file, tail))
    }

    /// Takes in the `bytes` that `advance` was made over.
    public mutating func apply(_ advance: Advance, bytes: UnsafeRawBufferPointer) {
        guard let paired = advance.paired else { return update(bytes) }
        state = paired.state
        pending = paired.tail
        pending.reserveCapacity(Self.blockBytes)
        length += UInt64(bytes.count)
    }

    /// A hash's next step over some bytes, and their own SHA-256 (`advance(over:)`).
    public struct Advance {
        public let digest: Digest
        /// The state and pending tail after the bytes; nil where they were not hashed in a pair, and `apply`
        /// hashes them then.
        fileprivate let paired: (state: csha256_state, tail: [UInt8])?
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public consuming func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        if let context {
            var written: UInt32 = 0
            EVP_DigestFinal_ex(context, &out, &written)
        } else {
            let status = pending.withUnsafeBytes { tail in
                csha256_end(&state, tail.baseAddress?.assumingMemoryBound(to: UInt8.self), tail.count, length, &out)
            }
            Self.expectNoFault(status)
        }
        return Digest(bytes: out)
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest {
        hash(bytes, engine: .fastest)
    }

    /// `bytes`' SHA-256, its blocks hashed beside other threads' through `pairing`: for threads that may block.
    public static func hash(_ bytes: UnsafeRawBufferPointer, pairing: HashPairing) -> Digest {
        var hasher = SHA256Hasher(pairing: pairing)
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func hash(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { hash($0) }
    }

    static func hash(_ bytes: UnsafeRawBufferPointer, engine: Engine) -> Digest {
        var hasher = SHA256Hasher(engine: engine)
        hasher.update(bytes)
        return hasher.finalize()
    }

    private static let blockBytes = 64

    private static func hashBlocks(_ blocks: UnsafeRawBufferPointer, into state: inout csha256_state) {
        guard let base = blocks.baseAddress, !blocks.isEmpty else { return }
        expectNoFault(csha256_blocks(&state, base.assumingMemoryBound(to: UInt8.self), blocks.count / blockBytes))
    }

    /// The SHA functions report a fault only when they read a mapped file that shrank; a mapping's bytes reach
    /// a hash only through `ChunkPairHasher`, which handles that, never through this type.
    private static func expectNoFault(_ status: Int32) {
        precondition(status == 0, "SHA256Hasher read memory that faulted")
    }
}
