import Foundation

/// Where a resource type lives in the API: `/apis/<group>/<version>/[namespaces/<ns>/]<plural>`.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The collection path, e.g. `/apis/manta.io/v1alpha1/torrents`.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(Self.escape(namespace))" }
        path += "/\(plural)"
        if let name { path += "/\(Self.escape(name))" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    private static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}

/// A Kubernetes object type the client can read and write.
public protocol KubeResource: Codable, Sendable {
    static var resourceType: ResourceType { get }
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }
}

/// A resource with a `status` subresource, written apart from the spec.
public protocol KubeStatusResource: KubeResource {}

extension KubeResource {
    public var name: String { metadata.name ?? "" }

    /// The cache key: `name` for cluster-scoped objects, `namespace/name` otherwise.
    public var key: String {
        if let namespace = metadata.namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }

    /// An owner reference to this object, for objects it controls.
    public var ownerReference: OwnerReference {
        OwnerReference(apiVersion: Self.resourceType.apiVersion, kind: Self.resourceType.kind, name: name, uid: metadata.uid ?? "")
    }

    /// Fills in `apiVersion` and `kind`, which the API server requires on writes.
    mutating func stampTypeMeta() {
        apiVersion = Self.resourceType.apiVersion
        kind = Self.resourceType.kind
    }
}

public struct ResourceList<Item: KubeResource>: Sendable, Codable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [Item]
}

/// JSON coding as the API server does it: RFC 3339 timestamps.
public enum KubeJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = parseTimestamp(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(text)' is not an RFC 3339 timestamp")
            }
            return date
        }
        return decoder
    }

    /// Parses `Time` (`2024-01-02T03:04:05Z`) and `MicroTime` (`2024-01-02T03:04:05.123456Z`).
    public static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Formats a `MicroTime` (`2006-01-02T15:04:05.000000Z`), as Leases require: the API server parses
    /// exactly six fractional digits.
    public static func microTime(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = min(Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down)), 999_999)
        let whole = Date(timeIntervalSince1970: seconds).formatted(.iso8601)
        let digits = String(micros)
        return whole.dropLast() + "." + String(repeating: "0", count: 6 - digits.count) + digits + "Z"
    }
}
