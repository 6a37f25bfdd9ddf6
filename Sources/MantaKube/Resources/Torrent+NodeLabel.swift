import MantaStore

extension Torrent {
    /// The prefix of the Node labels that say which Torrents a node holds: `torrent.manta.io/<name>`.
    public static let nodeLabelPrefix = "torrent.manta.io/"
    /// The Node label's value while the node holds the model pulled.
    public static let nodeLabelReady = "ready"
    /// The value while the node has it registered (`preheat: false`): readable at once, loaded on first read.
    public static let nodeLabelRegistered = "registered"

    /// The Node label key for a Torrent, stable for its name. A label name is at most 63 characters: a longer
    /// Torrent name keeps its first 46 and gets a hash of the whole name, so different names never share a key.
    public static func nodeLabelKey(for name: String) -> String {
        let limit = 63
        guard name.utf8.count > limit else { return nodeLabelPrefix + name }
        let hash = SHA256Hasher.hash(Array(name.utf8)).hex.prefix(16)
        var head = String(name.prefix(limit - hash.count - 1))
        while let last = head.last, !(last.isASCII && (last.isLetter || last.isNumber)) { head.removeLast() }
        return nodeLabelPrefix + head + "-" + hash
    }

    public var nodeLabelKey: String { Self.nodeLabelKey(for: name) }
}
