import MantaKube

/// `/api/v1/[namespaces/<ns>/]<plural>[/<name>[/<sub>]]` or `/apis/<group>/<version>/...`.
public struct APIRoute: Sendable {
    public var collection: APIStore.Collection
    public var namespace: String?
    public var name: String?
    public var subresource: String?

    public init?(path: String) {
        var parts = path.split(separator: "/").map { $0.removingPercentEncoding ?? String($0) }
        let group: String
        if parts.first == "api", parts.count >= 3 {
            group = ""
            parts.removeFirst()
        } else if parts.first == "apis", parts.count >= 4 {
            group = parts[1]
            parts.removeFirst(2)
        } else {
            return nil
        }
        let version = parts.removeFirst()
        if parts.first == "namespaces", parts.count >= 3 {
            namespace = parts[1]
            parts.removeFirst(2)
        }
        guard let plural = parts.first, parts.count <= 3 else { return nil }
        collection = APIStore.Collection(group: group, version: version, plural: plural)
        name = parts.count > 1 ? parts[1] : nil
        subresource = parts.count > 2 ? parts[2] : nil
    }

    public func key(_ name: String) -> String {
        namespace.map { "\($0)/\(name)" } ?? name
    }
}
