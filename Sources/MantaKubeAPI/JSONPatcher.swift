import MantaKube

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
                    throw APIRequestError(code: 422, reason: "Invalid", message: "the test operation at \(operation.path) failed")
                }
            }
        }
        return document
    }

    private static func failure(_ message: String) -> APIRequestError {
        APIRequestError(code: 422, reason: "Invalid", message: "invalid JSON patch: \(message)")
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
