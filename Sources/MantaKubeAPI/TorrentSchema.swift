import MantaKube

/// The Torrent CRD's structural defaults and validation (OpenAPI and CEL rules of deploy/crds), as the API
/// server applies them on create and update.
public enum TorrentSchema {
    public static func admit(_ object: JSONValue, old: JSONValue?, name: String) throws -> JSONValue {
        var object = object
        var spec = object["spec"] ?? [:]
        var errors: [String] = []
        if var hub = spec["hub"] {
            if hub["name"] == nil { hub["name"] = "Huggingface" }
            if hub["revision"] == nil { hub["revision"] = "main" }
            if let hubName = hub["name"]?.stringValue, hubName != "Huggingface" {
                errors.append("spec.hub.name: Unsupported value: \"\(hubName)\": supported values: \"Huggingface\"")
            }
            if (hub["repoID"]?.stringValue ?? "").isEmpty {
                errors.append("spec.hub.repoID: Required value")
            }
            spec["hub"] = hub
        } else {
            errors.append("spec.hub: Required value")
        }
        if spec["preheat"] == nil { spec["preheat"] = true }
        if spec["replicas"] == nil { spec["replicas"] = 1 }
        if spec["reclaimPolicy"] == nil { spec["reclaimPolicy"] = "Retain" }
        if let replicas = spec["replicas"]?.intValue, replicas < 1 {
            errors.append("spec.replicas: Invalid value: \(replicas): spec.replicas in body should be greater than or equal to 1")
        }
        if let policy = spec["reclaimPolicy"]?.stringValue, !["Retain", "Delete"].contains(policy) {
            errors.append("spec.reclaimPolicy: Unsupported value: \"\(policy)\": supported values: \"Retain\", \"Delete\"")
        }
        if let ttl = spec["ttlSecondsAfterReady"]?.intValue, ttl < 0 {
            errors.append("spec.ttlSecondsAfterReady: Invalid value: \(ttl): spec.ttlSecondsAfterReady in body should be greater than or equal to 0")
        }
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
