#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    func referencePath(_ reference: RepoReference, in directory: String? = nil) -> String {
        let revision = reference.revision.replacing("/", with: "%2F")
        return "\(directory ?? refsDirectory)/\(reference.organization)/\(reference.name)/\(revision)"
    }

    /// Points `reference` at `digest`; the previous manifest loses the pins that `reference` held on it.
    public func setReference(_ reference: RepoReference, to digest: Digest, pinned: Bool) throws {
        try setReference(reference, to: digest, pinned: pinned, syncing: nil)
    }

    /// `syncing(changes)`, when given, is called once, with whether the reference changes; when it does, after its
    /// new content is written beside its name and before the rename, in place of that file's own sync: a
    /// `syncfs` that makes it durable along with whatever else the caller wrote.
    func setReference(_ reference: RepoReference, to digest: Digest, pinned: Bool, syncing: ((Bool) throws -> Void)?) throws {
        // The pin's file goes first, so that the sync that makes the reference durable covers it too.
        if pinned { try writePinFile(digest, holder: Self.importHolder(reference), durable: syncing == nil) }
        let previous = try writeReference(reference, to: digest, in: refsDirectory, syncing: syncing)
        if let previous, previous != digest {
            for holder in Self.referenceHolders(reference) { try unpin(previous, holder: holder) }
        }
        if pinned { try database.pin(digest, holder: Self.importHolder(reference)) }
    }

    /// Atomically points `reference` in `directory` at `digest`; returns what it pointed at before.
    func writeReference(
        _ reference: RepoReference, to digest: Digest, in directory: String, syncing: ((Bool) throws -> Void)? = nil
    ) throws -> Digest? {
        let previous = try resolve(reference, in: directory)
        // Written once already: a re-import writes nothing.
        if previous == digest {
            try syncing?(false)
            return previous
        }
        let path = referencePath(reference, in: directory)
        try FileSystem.makeDirectories(FileSystem.parent(of: path))
        try FileSystem.writeAtomically(
            Array((digest.prefixed + "\n").utf8), to: path, temporaryDirectory: temporaryDirectory,
            beforeRename: syncing.map { syncing in { try syncing(true) } }
        )
        return previous
    }

    /// Writes content-addressed `bytes` to `path` unless they are there already; returns their digest and
    /// whether they were written.
    func writeOnce(_ bytes: [UInt8], named path: (Digest) -> String, durable: Bool = true) throws -> (digest: Digest, written: Bool) {
        let digest = SHA256Hasher.hash(bytes)
        guard !FileSystem.exists(path(digest)) else { return (digest, false) }
        try FileSystem.writeAtomically(bytes, to: path(digest), temporaryDirectory: temporaryDirectory, durable: durable)
        return (digest, true)
    }

    public func resolve(_ reference: RepoReference) throws -> Digest? {
        try resolve(reference, in: refsDirectory)
    }

    func resolve(_ reference: RepoReference, in directory: String) throws -> Digest? {
        let path = referencePath(reference, in: directory)
        guard FileSystem.exists(path) else { return nil }
        let text = String(decoding: try FileSystem.readAll(path), as: UTF8.self).trimmingWhitespace
        return Digest(prefixed: text)
    }

    public func requireManifest(_ reference: RepoReference) throws -> (digest: Digest, manifest: Manifest) {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        return (digest, try manifest(digest))
    }

    /// Every reference in the store, sorted.
    public func references() throws -> [(reference: RepoReference, digest: Digest)] {
        try references(in: refsDirectory)
    }

    func references(in directory: String) throws -> [(reference: RepoReference, digest: Digest)] {
        var found: [(RepoReference, Digest)] = []
        for organization in try FileSystem.listing(of: directory) {
            for name in try FileSystem.listing(of: "\(directory)/\(organization)") {
                for file in try FileSystem.listing(of: "\(directory)/\(organization)/\(name)") where !file.hasPrefix("tmp-") {
                    let revision = file.replacing("%2F", with: "/")
                    guard let reference = try? RepoReference(organization: organization, name: name, revision: revision),
                        let digest = try resolve(reference, in: directory)
                    else { continue }
                    found.append((reference, digest))
                }
            }
        }
        return found.sorted { $0.0.description < $1.0.description }
    }

    /// Removes the reference and the pins it held; GC then frees what nothing else uses.
    public func removeReference(_ reference: RepoReference) throws {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        guard unlink(referencePath(reference)) == 0 else { throw StoreError.fromErrno(errno, path: referencePath(reference), operation: "remove") }
        for holder in Self.referenceHolders(reference) { try unpin(digest, holder: holder) }
    }
}
