import MantaStore

/// Input: manifest JSON. A manifest that decodes must survive what its readers do with it (sizes, chunk lookups)
/// and come back unchanged from its canonical bytes, or two nodes would name one revision by two digests.
enum ManifestTarget {
    static func run(_ input: inout FuzzInput) throws(InvariantViolation) {
        let bytes = input.rest
        // A registration is decoded by the same rules and becomes a manifest; it is checked against its own
        // digest, so every input gets past that check.
        _ = try? Registration.decode(bytes, expectedDigest: SHA256Hasher.hash(bytes))
        guard let manifest = try? Manifest.decode(bytes) else { return }
        _ = manifest.logicalSize
        _ = manifest.chunkIDs
        for file in manifest.files {
            for (index, chunk) in file.chunks.enumerated().prefix(64) {
                guard file.chunkIndex(containing: chunk.offset) == index, file.chunkIndex(containing: chunk.end - 1) == index else {
                    throw InvariantViolation(target: .manifest, message: "'\(file.path)': chunk \(index) is not found at its own offsets")
                }
            }
            guard file.chunkIndex(containing: file.size) == nil else {
                throw InvariantViolation(target: .manifest, message: "'\(file.path)': a chunk holds the offset just past the end")
            }
        }
        let canonical = manifest.canonicalJSON()
        guard let again = try? Manifest.decode(canonical, expectedDigest: manifest.digest), again == manifest else {
            throw InvariantViolation(target: .manifest, message: "the canonical JSON of a valid manifest does not decode to the same manifest")
        }
    }
}
