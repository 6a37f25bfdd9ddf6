#if canImport(Glibc)
import Glibc
#endif

/// Pins keep a manifest's chunks from eviction. Each lasting pin is a file, `pins/<manifest hex>/<SHA-256 of the
/// holder, hex>` holding the holder's name, beside its row in `meta.db`: the files are the truth, so a database that
/// is lost or rebuilt gets its pins back from them (a lost pin would let `gc --quota` evict a local import that
/// can be had from nowhere else). A file is written before its row and removed before it, so recovery, which
/// makes the rows match the files, finishes whichever a crash cut short. Pins of a running process (holders that
/// start with `processHolderPrefix`) die with it and have no file.
extension Store {
    static func importHolder(_ reference: RepoReference) -> String { "import:\(reference)" }
    static func userHolder(_ reference: RepoReference) -> String { "user:\(reference)" }
    static func referenceHolders(_ reference: RepoReference) -> [String] { [importHolder(reference), userHolder(reference)] }

    /// Holders that a mount names after its process: such pins are dropped when the process is gone, and not kept in files.
    public static let processHolderPrefix = "open:"

    var pinsDirectory: String { root + "/pins" }
    /// Present once every lasting pin has its file; stores from before pin files get theirs from the database once.
    var pinFilesCompleteMarker: String { pinsDirectory + "/.complete" }

    /// Pins the manifest `reference` names: its chunks are never evicted until unpinned.
    public func pin(_ reference: RepoReference, holder: String? = nil) throws {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        try pin(digest, holder: holder ?? Self.userHolder(reference))
    }

    /// Removes the pins that `reference` holds (from `manta pin` and from import).
    public func unpin(_ reference: RepoReference) throws {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        for holder in Self.referenceHolders(reference) { try unpin(digest, holder: holder) }
    }

    /// Drops the pin an import or pull of `reference` took (`--no-pin`), leaving the model to eviction; a pin
    /// from `manta pin` or any other holder stays.
    public func releaseImportPin(of reference: RepoReference) throws {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        try unpin(digest, holder: Self.importHolder(reference))
    }

    public func pin(_ digest: Digest, holder: String) throws {
        try writePinFile(digest, holder: holder, durable: true)
        try database.pin(digest, holder: holder)
    }

    public func unpin(_ digest: Digest, holder: String) throws {
        if Self.lasts(holder) {
            let path = pinPath(digest, holder: holder)
            guard unlink(path) == 0 || errno == ENOENT else { throw StoreError.fromErrno(errno, path: path, operation: "remove") }
        }
        try database.unpin(digest, holder: holder)
    }

    public func pins() throws -> [(manifest: Digest, holder: String)] { try database.pins() }

    static func lasts(_ holder: String) -> Bool { !holder.hasPrefix(processHolderPrefix) }

    func pinPath(_ digest: Digest, holder: String) -> String {
        "\(pinsDirectory)/\(digest.hex)/\(SHA256Hasher.hash(Array(holder.utf8)).hex)"
    }

    /// Writes the file of a lasting pin unless it is there; `durable: false` for a caller that syncs the file
    /// system before the pin may be relied on.
    func writePinFile(_ digest: Digest, holder: String, durable: Bool) throws {
        guard Self.lasts(holder) else { return }
        let path = pinPath(digest, holder: holder)
        guard !FileSystem.exists(path) else { return }
        try FileSystem.makeDirectories(FileSystem.parent(of: path))
        try FileSystem.writeAtomically(Array(holder.utf8), to: path, temporaryDirectory: temporaryDirectory, durable: durable)
    }

    /// The lasting pins their files record. A file whose name is not the hash of its content is not a pin.
    func pinsFromFiles() throws -> Set<Pin> {
        var found = Set<Pin>()
        for folder in try FileSystem.listing(of: pinsDirectory) {
            guard let digest = Digest(hex: folder) else { continue }
            for name in try FileSystem.listing(of: "\(pinsDirectory)/\(folder)") {
                let holder = String(decoding: try FileSystem.readAll("\(pinsDirectory)/\(folder)/\(name)"), as: UTF8.self)
                guard SHA256Hasher.hash(Array(holder.utf8)).hex == name, Self.lasts(holder) else { continue }
                found.insert(Pin(manifest: digest, holder: holder))
            }
        }
        return found
    }

    /// Makes the database's lasting pins those of the files; for a store from before pin files, first writes the
    /// files of the pins its database has. Runs with the store to this process alone.
    func reconcilePins() throws {
        let recorded = Set(try database.pins().map { Pin(manifest: $0.manifest, holder: $0.holder) }.filter { Self.lasts($0.holder) })
        if !FileSystem.exists(pinFilesCompleteMarker) {
            for pin in recorded { try writePinFile(pin.manifest, holder: pin.holder, durable: false) }
            try FileSystem.makeDirectories(pinsDirectory)
            try syncFileSystem()
            try FileSystem.writeAtomically([], to: pinFilesCompleteMarker, temporaryDirectory: temporaryDirectory)
        }
        let filed = try pinsFromFiles()
        let restored = filed.subtracting(recorded)
        if !restored.isEmpty {
            logger.info("restoring pins from their files", metadata: ["count": "\(restored.count)"])
        }
        for pin in restored { try database.pin(pin.manifest, holder: pin.holder) }
        for pin in recorded.subtracting(filed) { try database.unpin(pin.manifest, holder: pin.holder) }
    }

    struct Pin: Hashable {
        var manifest: Digest
        var holder: String
    }
}
