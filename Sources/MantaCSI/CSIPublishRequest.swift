import GRPCCore
import MantaStore

/// A `NodePublishVolume` request, checked: where to publish and which model. Everything in it comes from kubelet
/// but was written by whoever wrote the pod, so every field is bounded and named when it is refused.
struct CSIPublishRequest: Sendable {
    /// The attributes a volume may carry (`volumeAttributes` of an inline volume, `volumeAttributes` of a PV).
    enum Attribute: String, CaseIterable {
        case torrent, model, revision, mode
    }

    /// Kubelet adds these (pod name, namespace, ephemeral); they are not the user's and are ignored.
    static let kubeletAttributePrefix = "csi.storage.k8s.io/"
    static let ephemeralAttribute = "csi.storage.k8s.io/ephemeral"
    /// Longer names are no model, Torrent or revision anyone can mean; paths longer than this no kernel takes.
    static let maximumAttributeLength = 256
    static let maximumPathLength = 4096

    let target: CSITargetPath
    let source: CSIVolumeSource

    init(_ request: Csi_V1_NodePublishVolumeRequest) throws(RPCError) {
        target = try CSITargetPath(request.targetPath)
        guard request.hasVolumeCapability else { throw Self.invalid("volume_capability is required") }
        if case .block = request.volumeCapability.accessType {
            throw Self.invalid("volume_capability: block volumes are not supported; Manta publishes a read-only folder")
        }
        // Inline volumes always arrive with a writer access mode (kubelet asks ReadWriteOnce for them), so the
        // `readonly` flag is what says whether the pod may write.
        guard request.readonly else {
            throw Self.invalid("readonly is false: Manta volumes are read-only; set readOnly: true on the csi volume (or the PV's claim)")
        }
        source = try Self.source(volumeID: request.volumeID, attributes: request.volumeContext)
    }

    /// The model or Torrent the attributes name; a static PersistentVolume without them names its model in the
    /// volume handle (`org/name` or `org/name@revision`).
    static func source(volumeID: String, attributes: [String: String]) throws(RPCError) -> CSIVolumeSource {
        for (key, value) in attributes where !key.hasPrefix(kubeletAttributePrefix) {
            guard Attribute(rawValue: key) != nil else {
                throw invalid(
                    "volume attribute '\(key.prefix(maximumAttributeLength))' is unknown: use \(Attribute.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            guard !value.isEmpty, value.utf8.count <= maximumAttributeLength else {
                throw invalid("volume attribute '\(key)' must hold 1 to \(maximumAttributeLength) bytes")
            }
        }
        let torrent = attributes[Attribute.torrent.rawValue]
        let model = attributes[Attribute.model.rawValue]
        switch (torrent, model) {
        case (.some, .some):
            throw invalid("volume attributes 'torrent' and 'model' exclude each other: name a Torrent or a model, not both")
        case (.some(let torrent), nil):
            for attribute in [Attribute.revision, .mode] where attributes[attribute.rawValue] != nil {
                throw invalid(
                    "volume attribute '\(attribute.rawValue)' does not go with 'torrent': the Torrent names its revision and whether it is preheated")
            }
            return .torrent(name: torrent)
        case (nil, .some(let model)):
            return .model(try modelVolume(model, attribute: .model, attributes: attributes))
        case (nil, nil):
            guard attributes[ephemeralAttribute] != "true", !volumeID.isEmpty else {
                throw invalid("volume attributes name no model: set 'model' (org/name) or 'torrent' (a Torrent's name)")
            }
            guard volumeID.utf8.count <= maximumAttributeLength else { throw invalid("volume_id is longer than \(maximumAttributeLength) bytes") }
            return .model(try modelVolume(volumeID, attribute: nil, attributes: attributes))
        }
    }

    /// `text` is `org/name` (with `revision` from its own attribute) or, in a volume handle, `org/name@revision`.
    private static func modelVolume(_ text: String, attribute: Attribute?, attributes: [String: String]) throws(RPCError) -> CSIModelVolume {
        let field = attribute.map { "volume attribute '\($0.rawValue)'" } ?? "volume_id (the PV's volumeHandle)"
        if attribute != nil, text.contains("@") {
            throw invalid("\(field) '\(text)' holds a revision: put it in the 'revision' attribute")
        }
        let mode: CSIVolumeMode
        if let text = attributes[Attribute.mode.rawValue] {
            guard let parsed = CSIVolumeMode(rawValue: text) else {
                throw invalid("volume attribute 'mode' is '\(text)': use \(CSIVolumeMode.allCases.map(\.rawValue).joined(separator: " or "))")
            }
            mode = parsed
        } else {
            mode = .wait
        }
        let reference: RepoReference
        do {
            reference = try RepoReference(parsing: text, defaultRevision: attributes[Attribute.revision.rawValue] ?? RepoReference.defaultRevision)
        } catch .invalidRevision(let revision) where attribute != nil {
            throw invalid("volume attribute 'revision' is not valid: \(RepoReferenceError.invalidRevision(revision))")
        } catch {
            throw invalid("\(field) is not a model: \(error)")
        }
        return CSIModelVolume(repository: reference.repo, revision: reference.revision, mode: mode)
    }

    static func invalid(_ message: String) -> RPCError { RPCError(code: .invalidArgument, message: message) }
}
