import CSHA256

/// Hashes file ranges where they lie (mapped), several at a time. Where the CPU has the SHA extensions, two ranges
/// share one core in about 60% of the time of one after the other on AMD and 88% on Intel: a single message waits
/// on each round's latency, and the other's rounds fill those waits. Where it has AVX-512 too, sixteen ranges in
/// the vector lanes take about half the time per byte of a pair on Intel (`HashCosts`). Hashing in place needs
/// neither a copy nor a buffer, whose fresh memory costs more than the hashing on some VMs
/// (benchmarks/RESULTS.md, Import).
enum ChunkPairHasher {
    /// Whether ranges are hashed in place, two per core (x86-64 with the SHA extensions); otherwise each is
    /// copied piece by piece for OpenSSL.
    static let interleaves = SHA256Hasher.Engine.fastest == .shaExtensions

    /// Hashes every range `next` hands out until it returns nil, and calls `done` with each range's digest as it
    /// completes, while its mapping is still held. Throws `FileMapping.shrank()` for a file that shrank.
    ///
    /// With `sixteenFrom`, sixteen ranges are held at once and hashed together while at least `sixteenFrom` are
    /// left, else two at a time. Only `verify` asks for it. The sixteen finish together, so a caller that writes
    /// what it hashes gets its first digests late; and each range keeps the page-cache folio it is in mapped
    /// (Linux maps a whole 2 MiB folio on one byte's fault), so a lane holds 32–64 MiB, more than an import's
    /// memory budget allows (benchmarks/RESULTS.md, Import).
    static func hashAll<Item>(
        interleaving: Bool = interleaves,
        sixteenFrom: Int? = nil,
        next: () throws -> (item: Item, mapping: FileMapping)?,
        done: (Item, FileMapping, Digest) throws -> Void
    ) throws {
        guard interleaving else {
            while let (item, mapping) = try next() { try done(item, mapping, try hashCopying(mapping)) }
            return
        }
        let held = sixteenFrom == nil ? 2 : 16
        var slots: [Slot<Item>] = []
        func refill() throws {
            while slots.count < held, let (item, mapping) = try next() { slots.append(Slot(item: item, mapping: mapping)) }
        }
        try refill()
        while !slots.isEmpty {
            if let sixteenFrom, slots.count >= max(2, sixteenFrom) {
                try hashSixteen(&slots)
            } else if slots.count >= 2 {
                let blocks = min(slots[0].blocksLeft, slots[1].blocksLeft)
                var (first, second) = (slots[0].state, slots[1].state)
                guard csha256_blocks_pair(&first, slots[0].next, &second, slots[1].next, blocks) == 0 else {
                    throw (slots.first { $0.mapping.fileShrank } ?? slots[0]).mapping.shrank()
                }
                (slots[0].state, slots[1].state) = (first, second)
                slots[0].hashed += 64 * blocks
                slots[1].hashed += 64 * blocks
            } else {
                try slots[0].hashRest()
            }
            for index in slots.indices.reversed() where slots[index].blocksLeft == 0 {
                var slot = slots.remove(at: index)
                try done(slot.item, slot.mapping, try slot.finish())
            }
            try refill()
        }
    }

    /// Hashes up to 1 MiB of each of the (at most sixteen) `slots`, the unused lanes repeating the first's bytes into
    /// a scratch state, and lets the hashed pages go: sixteen ranges' whole chunks would otherwise stay resident.
    private static func hashSixteen<Item>(_ slots: inout [Slot<Item>]) throws {
        let blocks = min(slots.map(\.blocksLeft).min() ?? 0, sixteenStepBlocks)
        var states = slots.map(\.state) + [csha256_state](repeating: csha256_state(), count: 16 - slots.count)
        let data = slots.map(\.next) + [UnsafePointer<UInt8>?](repeating: slots[0].next, count: 16 - slots.count)
        guard csha256_blocks_sixteen(&states, data, blocks) == 0 else {
            throw (slots.first { $0.mapping.fileShrank } ?? slots[0]).mapping.shrank()
        }
        for index in slots.indices {
            slots[index].state = states[index]
            slots[index].hashed += 64 * blocks
            slots[index].mapping.releasePages(before: slots[index].hashed)
        }
    }

    private static let sixteenStepBlocks = (1 << 20) / 64

    /// The SHA-256 of one mapped range, hashed where it lies. Throws `FileMapping.shrank()` for a file that shrank.
    static func hash(_ mapping: FileMapping, interleaving: Bool = interleaves) throws -> Digest {
        guard interleaving else { return try hashCopying(mapping) }
        var slot = Slot(item: (), mapping: mapping)
        try slot.hashRest()
        return try slot.finish()
    }

    /// A range being hashed: how far, and the state so far.
    private struct Slot<Item> {
        let item: Item
        let mapping: FileMapping
        var state = csha256_state()
        var hashed = 0

        init(item: Item, mapping: FileMapping) {
            self.item = item
            self.mapping = mapping
            csha256_begin(&state)
        }

        var blocksLeft: Int { (mapping.bytes.count - hashed) / 64 }
        var next: UnsafePointer<UInt8>? { mapping.bytes.baseAddress.map { ($0 + hashed).assumingMemoryBound(to: UInt8.self) } }

        /// Hashes the whole blocks left, alone.
        mutating func hashRest() throws {
            guard csha256_blocks(&state, next, blocksLeft) == 0 else { throw mapping.shrank() }
            hashed += 64 * blocksLeft
        }

        mutating func finish() throws -> Digest {
            var digest = [UInt8](repeating: 0, count: 32)
            guard csha256_end(&state, next, mapping.bytes.count - hashed, UInt64(mapping.bytes.count), &digest) == 0 else { throw mapping.shrank() }
            return Digest(bytes: digest)
        }
    }

    private static func hashCopying(_ mapping: FileMapping) throws -> Digest {
        var hasher = SHA256Hasher()
        try mapping.forEachPiece { hasher.update($0) }
        return hasher.finalize()
    }
}
