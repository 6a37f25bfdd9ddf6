/// One operation of an RFC 6902 JSON patch.
public struct JSONPatchOperation: Sendable, Hashable, Codable {
    public enum Operation: String, Sendable, Codable {
        case add, remove, replace, test
    }

    public var op: Operation
    /// A JSON pointer (RFC 6901), e.g. `/metadata/finalizers/0`.
    public var path: String
    public var value: JSONValue?

    public init(op: Operation, path: String, value: JSONValue? = nil) {
        self.op = op
        self.path = path
        self.value = value
    }

    public static func add(_ path: String, _ value: JSONValue) -> Self { Self(op: .add, path: path, value: value) }
    public static func replace(_ path: String, _ value: JSONValue) -> Self { Self(op: .replace, path: path, value: value) }
    public static func remove(_ path: String) -> Self { Self(op: .remove, path: path) }
    public static func test(_ path: String, _ value: JSONValue) -> Self { Self(op: .test, path: path, value: value) }
}
