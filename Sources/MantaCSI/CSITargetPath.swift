import GRPCCore

/// The folder kubelet asks a volume to be published at: absolute, bounded, without `.` or `..` parts, so the plugin
/// (root, in the host's mount namespace) only ever mounts or removes exactly the folder kubelet named.
struct CSITargetPath: Sendable, Hashable, CustomStringConvertible {
    let path: String

    init(_ text: String) throws(RPCError) {
        guard !text.isEmpty else { throw CSIPublishRequest.invalid("target_path is required") }
        let parts = text.split(separator: "/")
        guard text.utf8.count <= CSIPublishRequest.maximumPathLength, text.hasPrefix("/"), !text.utf8.contains(0), !parts.isEmpty,
            !parts.contains(where: { $0 == "." || $0 == ".." })
        else {
            throw CSIPublishRequest.invalid(
                "target_path must be an absolute path below / without '.' or '..' parts, at most \(CSIPublishRequest.maximumPathLength) bytes")
        }
        // As the kernel writes mount points (mountinfo), which is how a published target is recognised.
        path = "/" + parts.joined(separator: "/")
    }

    var description: String { path }
}
