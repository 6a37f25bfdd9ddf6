import GRPCCore

/// The folder kubelet asks a volume to be published at: absolute, bounded, without `.` or `..` parts, so the plugin
/// (root, in the host's mount namespace) only ever mounts or removes exactly the folder kubelet named.
struct CSITargetPath: Sendable, Hashable, CustomStringConvertible {
    let path: String

    init(_ text: String) throws(RPCError) {
        guard !text.isEmpty else { throw CSIPublishRequest.invalid("target_path is required") }
        guard text.utf8.count <= CSIPublishRequest.maximumPathLength, text.hasPrefix("/"), !text.utf8.contains(0),
              !text.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }), text != "/"
        else {
            throw CSIPublishRequest.invalid("target_path must be an absolute path below / without '.' or '..' parts, at most \(CSIPublishRequest.maximumPathLength) bytes")
        }
        path = text.count > 1 && text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    var description: String { path }
}
