import MantaKube

/// Label and field selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated (all must hold).
public struct ResourceSelector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String)
        case notEquals(String, String)
        case exists(String)
        case notExists(String)
    }

    var labels: [Requirement] = []
    var fields: [Requirement] = []

    public struct ParseError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(label: String?, field: String?) throws {
        labels = try Self.parse(label ?? "")
        fields = try Self.parse(field ?? "")
        for requirement in fields {
            guard case .equals = requirement else { throw ParseError(description: "field selectors support only '=' and '=='") }
        }
    }

    private static func parse(_ text: String) throws -> [Requirement] {
        try text.split(separator: ",").map { term in
            let term = term.trimmingCharacters(in: .whitespaces)
            if let range = term.range(of: "!=") {
                return .notEquals(String(term[..<range.lowerBound]), String(term[range.upperBound...]))
            }
            if let range = term.range(of: "==") ?? term.range(of: "=") {
                return .equals(String(term[..<range.lowerBound]), String(term[range.upperBound...]))
            }
            if term.hasPrefix("!") { return .notExists(String(term.dropFirst())) }
            guard !term.isEmpty, !term.contains(" ") else { throw ParseError(description: "unable to parse requirement '\(term)'") }
            return .exists(term)
        }
    }

    public func matches(_ object: JSONValue) -> Bool {
        let objectLabels = object["metadata"]?["labels"]?.objectValue ?? [:]
        let labelsMatch = labels.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): objectLabels[key]?.stringValue == value
            case .notEquals(let key, let value): objectLabels[key]?.stringValue != value
            case .exists(let key): objectLabels[key] != nil
            case .notExists(let key): objectLabels[key] == nil
            }
        }
        return labelsMatch
            && fields.allSatisfy { requirement in
                guard case .equals(let path, let value) = requirement else { return false }
                var current: JSONValue? = object
                for component in path.split(separator: ".") { current = current?[String(component)] }
                return current?.stringValue == value
            }
    }
}
