/// A model repository on a Hugging Face hub: `namespace/name`.
///
/// Parsing is strict so that an id can be used as two path components without escaping: each part is
/// 1–96 characters of letters, digits, `-`, `_` and `.`, and neither starts with `.`.
public struct HubRepoID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) throws(HubError) {
        guard Self.isValidComponent(namespace), Self.isValidComponent(name) else {
            throw HubError.invalidRepoID("\(namespace)/\(name)")
        }
        self.namespace = namespace
        self.name = name
    }

    /// Parses `namespace/name`.
    public init(_ text: String) throws(HubError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw HubError.invalidRepoID(text) }
        try self.init(namespace: String(parts[0]), name: String(parts[1]))
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: HubRepoID, rhs: HubRepoID) -> Bool { lhs.description < rhs.description }

    static func isValidComponent(_ text: some StringProtocol) -> Bool {
        guard (1...96).contains(text.utf8.count), text.first != "." else { return false }
        return text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }
}
