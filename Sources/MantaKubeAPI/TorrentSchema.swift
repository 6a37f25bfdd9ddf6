import MantaKube

/// The Torrent CRD's structural defaults and validation (OpenAPI and CEL rules of deploy/crds), as the API
/// server applies them on create and update; the defaults, enums and minimums come from ``openAPI``.
public enum TorrentSchema {
    /// Fields the schema does not declare are dropped, as the API server prunes them; `strict` refuses them instead,
    /// as it does for `fieldValidation=Strict`.
    public static func admit(_ object: JSONValue, old: JSONValue?, name: String, strict: Bool = false) throws -> JSONValue {
        var unknown: [String] = []
        var object = pruned(object, schema: openAPI, removing: &unknown)
        guard !strict || unknown.isEmpty else {
            let fields = unknown.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
            throw APIRequestError(
                code: 400, reason: "BadRequest",
                message: "Torrent in version \"v1alpha1\" cannot be handled as a Torrent: strict decoding error: \(fields)")
        }
        var spec = object["spec"] ?? [:]
        var errors: [String] = []
        if let hub = spec["hub"] {
            spec["hub"] = withDefaults(hub, from: specField(["hub"]))
            if let error = unsupported(spec["hub"]?["name"], at: "hub", "name") { errors.append(error) }
            if (hub["repoID"]?.stringValue ?? "").isEmpty {
                errors.append("spec.hub.repoID: Required value")
            }
        } else {
            errors.append("spec.hub: Required value")
        }
        spec = withDefaults(spec, from: openAPI["properties"]?["spec"])
        errors += [
            belowMinimum(spec["replicas"], at: "replicas"),
            unsupported(spec["reclaimPolicy"], at: "reclaimPolicy"),
            belowMinimum(spec["ttlSecondsAfterReady"], at: "ttlSecondsAfterReady"),
        ].compactMap { $0 }
        if old?["spec"]?["preheat"] == true, spec["preheat"] == false {
            errors.append("spec.preheat: Invalid value: \"boolean\": preheat cannot change from true to false")
        }
        guard errors.isEmpty else {
            let list = errors.count == 1 ? errors[0] : "[" + errors.joined(separator: ", ") + "]"
            throw APIRequestError(code: 422, reason: "Invalid", message: "Torrent.manta.io \"\(name)\" is invalid: \(list)")
        }
        object["spec"] = spec
        return object
    }
}
