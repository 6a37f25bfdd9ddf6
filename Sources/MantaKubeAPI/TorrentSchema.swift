import MantaKube

/// The Torrent CRD's structural defaults and validation (OpenAPI and CEL rules of deploy/crds), as the API
/// server applies them on create and update.
enum TorrentSchema {
    static func admit(_ object: JSONValue, old: JSONValue?, name: String) throws -> JSONValue {
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
            throw TestAPIServer.RequestError(code: 422, reason: "Invalid", message: "Torrent.manta.io \"\(name)\" is invalid: \(list)")
        }
        object["spec"] = spec
        return object
    }
}

/// RFC 6902 JSON patch over ``JSONValue``.
enum JSONPatcher {
    static func apply(_ operations: [JSONPatchOperation], to document: JSONValue) throws -> JSONValue {
        var document = document
        for operation in operations {
            let tokens = try pointer(operation.path)
            switch operation.op {
            case .add, .replace:
                guard let value = operation.value else { throw failure("\(operation.op) \(operation.path) needs a value") }
                document = try set(document, tokens[...], value: value, insert: operation.op == .add)
            case .remove:
                document = try remove(document, tokens[...])
            case .test:
                guard get(document, tokens[...]) == operation.value else {
                    throw TestAPIServer.RequestError(code: 422, reason: "Invalid", message: "the test operation at \(operation.path) failed")
                }
            }
        }
        return document
    }

    private static func failure(_ message: String) -> TestAPIServer.RequestError {
        TestAPIServer.RequestError(code: 422, reason: "Invalid", message: "invalid JSON patch: \(message)")
    }

    private static func pointer(_ path: String) throws -> [String] {
        guard path.hasPrefix("/") else { throw failure("path '\(path)' is not a JSON pointer") }
        return path.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    private static func get(_ node: JSONValue, _ tokens: ArraySlice<String>) -> JSONValue? {
        guard let token = tokens.first else { return node }
        switch node {
        case .object(let fields): return fields[token].flatMap { get($0, tokens.dropFirst()) }
        case .array(let items): return Int(token).flatMap { items.indices.contains($0) ? get(items[$0], tokens.dropFirst()) : nil }
        default: return nil
        }
    }

    private static func set(_ node: JSONValue, _ tokens: ArraySlice<String>, value: JSONValue, insert: Bool) throws -> JSONValue {
        guard let token = tokens.first else { return value }
        let last = tokens.count == 1
        switch node {
        case .object(var fields):
            if last {
                guard insert || fields[token] != nil else { throw failure("replace of missing member '\(token)'") }
                fields[token] = value
            } else {
                guard let child = fields[token] else { throw failure("missing member '\(token)'") }
                fields[token] = try set(child, tokens.dropFirst(), value: value, insert: insert)
            }
            return .object(fields)
        case .array(var items):
            if last, insert {
                let index = token == "-" ? items.count : Int(token) ?? -1
                guard (0...items.count).contains(index) else { throw failure("index '\(token)' out of range") }
                items.insert(value, at: index)
            } else {
                guard let index = Int(token), items.indices.contains(index) else { throw failure("index '\(token)' out of range") }
                items[index] = last ? value : try set(items[index], tokens.dropFirst(), value: value, insert: insert)
            }
            return .array(items)
        default:
            throw failure("'\(token)' is inside a scalar")
        }
    }

    private static func remove(_ node: JSONValue, _ tokens: ArraySlice<String>) throws -> JSONValue {
        guard let token = tokens.first else { throw failure("cannot remove the whole document") }
        switch node {
        case .object(var fields):
            guard let child = fields[token] else { throw failure("missing member '\(token)'") }
            fields[token] = tokens.count == 1 ? nil : try remove(child, tokens.dropFirst())
            return .object(fields)
        case .array(var items):
            guard let index = Int(token), items.indices.contains(index) else { throw failure("index '\(token)' out of range") }
            if tokens.count == 1 { items.remove(at: index) } else { items[index] = try remove(items[index], tokens.dropFirst()) }
            return .array(items)
        default:
            throw failure("'\(token)' is inside a scalar")
        }
    }
}
