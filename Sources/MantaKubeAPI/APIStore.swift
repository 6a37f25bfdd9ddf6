import Foundation
import MantaKube
import NIOCore
import Synchronization

/// The state of the test API server: objects as JSON, a monotonic resource version, the event history that
/// watches replay from, and the live watches.
final class APIStore: Sendable {
    struct Collection: Hashable, Sendable {
        var group: String
        var version: String
        var plural: String

        var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
        var id: String { "\(group)/\(plural)" }
    }

    struct HistoryEntry: Sendable {
        var version: Int64
        var collection: String
        var type: String
        var object: JSONValue
    }

    struct Watcher: Sendable {
        var collection: String
        var namespace: String?
        var selector: Selector
        var continuation: AsyncStream<ByteBuffer>.Continuation
    }

    struct State {
        var version: Int64 = 100
        var objects: [String: [String: JSONValue]] = [:]
        var history: [HistoryEntry] = []
        /// Watches from a version at or below this get 410 Gone.
        var compactedThrough: Int64 = 100
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 0
        /// Object keys whose next PUTs are preceded by a write from "another client", forcing a 409.
        var interference: [String: Int] = [:]
        var requests: [String: Int] = [:]
        /// False answers watches with 503, as an overloaded or restarting API server would.
        var watchesAvailable = true
        /// Requests still to be refused with 429 Too Many Requests.
        var throttle = 0
        /// When set, requests must carry this bearer token.
        var requiredToken: String?
    }

    /// Kinds of the collections tests use, for list responses.
    static let kinds: [String: String] = [
        "manta.io/torrents": "Torrent", "manta.io/replications": "Replication", "manta.io/nodetrackers": "NodeTracker",
        "/nodes": "Node", "coordination.k8s.io/leases": "Lease", "/events": "Event",
    ]
    /// Collections with a status subresource: the main endpoint ignores status, `/status` ignores the rest.
    static let statusCollections: Set<String> = ["manta.io/torrents", "manta.io/replications", "manta.io/nodetrackers", "/nodes"]

    let state = Mutex(State())

    // MARK: Reads

    func currentVersion() -> Int64 { state.withLock { $0.version } }

    func object(_ collection: Collection, key: String) -> JSONValue? {
        state.withLock { $0.objects[collection.id]?[key] }
    }

    func list(_ collection: Collection, namespace: String?, selector: Selector) -> (items: [JSONValue], version: Int64) {
        state.withLock { state in
            let items = (state.objects[collection.id] ?? [:]).values
                .filter { Self.inNamespace($0, namespace) && selector.matches($0) }
                .sorted { ($0["metadata"]?["name"]?.stringValue ?? "") < ($1["metadata"]?["name"]?.stringValue ?? "") }
            return (items, state.version)
        }
    }

    func setWatchesAvailable(_ available: Bool) { state.withLock { $0.watchesAvailable = available } }

    func watchesAvailable() -> Bool { state.withLock { $0.watchesAvailable } }

    /// Refuses the next `times` requests with 429 and `Retry-After: 0`, as API Priority and Fairness does.
    func throttle(times: Int) { state.withLock { $0.throttle = times } }

    func takeThrottle() -> Bool {
        state.withLock { state in
            guard state.throttle > 0 else { return false }
            state.throttle -= 1
            return true
        }
    }

    func requiredToken() -> String? { state.withLock { $0.requiredToken } }

    func requireToken(_ token: String?) { state.withLock { $0.requiredToken = token } }

    /// The next `times` updates of `key` meet a concurrent write first, and so a 409.
    func interfere(with key: String, times: Int) { state.withLock { $0.interference[key] = times } }

    func count(_ request: String) -> Int { state.withLock { $0.requests[request, default: 0] } }

    func countRequest(_ request: String) { state.withLock { $0.requests[request, default: 0] += 1 } }

    // MARK: Writes

    /// Stores `object` under `key` (nil removes it), stamping a new resource version and recording the event.
    @discardableResult
    func write(_ collection: Collection, key: String, type: String, object: JSONValue, remove: Bool = false, in state: inout State) -> JSONValue {
        state.version += 1
        var object = object
        object["metadata"]?["resourceVersion"] = .string(String(state.version))
        if remove {
            state.objects[collection.id]?.removeValue(forKey: key)
        } else {
            state.objects[collection.id, default: [:]][key] = object
        }
        let entry = HistoryEntry(version: state.version, collection: collection.id, type: type, object: object)
        state.history.append(entry)
        for watcher in state.watchers.values where watcher.collection == collection.id {
            if Self.inNamespace(object, watcher.namespace), watcher.selector.matches(object) {
                watcher.continuation.yield(Self.eventLine(type: type, object: object))
            }
        }
        return object
    }

    /// A write by some other client between a reader's GET and its PUT.
    func interfereIfAsked(_ collection: Collection, key: String, in state: inout State) {
        guard let remaining = state.interference[key], remaining > 0, let current = state.objects[collection.id]?[key] else { return }
        state.interference[key] = remaining - 1
        var touched = current
        touched["metadata"]?["annotations"] = .object(
            (current["metadata"]?["annotations"]?.objectValue ?? [:]).merging(["test/interference": .string(String(remaining))]) { $1 })
        write(collection, key: key, type: "MODIFIED", object: touched, in: &state)
    }

    // MARK: Watches

    enum WatchStart {
        case stream(AsyncStream<ByteBuffer>, id: Int)
        case gone(ByteBuffer)
    }

    func startWatch(_ collection: Collection, namespace: String?, selector: Selector, from version: Int64?) -> WatchStart {
        state.withLock { state in
            var replay: [ByteBuffer] = []
            if let version, version > 0 {
                if version < state.compactedThrough {
                    let status = KubeStatus(message: "too old resource version: \(version) (\(state.compactedThrough))", reason: "Expired", code: 410)
                    return .gone(Self.eventLine(type: "ERROR", object: Self.json(status)))
                }
                for entry in state.history where entry.version > version && entry.collection == collection.id {
                    if Self.inNamespace(entry.object, namespace), selector.matches(entry.object) {
                        replay.append(Self.eventLine(type: entry.type, object: entry.object))
                    }
                }
            } else {
                // No version: the current state as ADDED events, then changes.
                for object in (state.objects[collection.id] ?? [:]).values where Self.inNamespace(object, namespace) && selector.matches(object) {
                    replay.append(Self.eventLine(type: "ADDED", object: object))
                }
            }
            let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            replay.forEach { continuation.yield($0) }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = Watcher(collection: collection.id, namespace: namespace, selector: selector, continuation: continuation)
            return .stream(stream, id: id)
        }
    }

    /// Sends a BOOKMARK at the current version to one watch.
    func bookmark(_ id: Int, collection: Collection) {
        state.withLock { state in
            guard let watcher = state.watchers[id] else { return }
            let object: JSONValue = [
                "apiVersion": .string(collection.apiVersion), "kind": .string(Self.kinds[collection.id] ?? ""),
                "metadata": ["resourceVersion": .string(String(state.version))],
            ]
            watcher.continuation.yield(Self.eventLine(type: "BOOKMARK", object: object))
        }
    }

    func endWatch(_ id: Int) {
        let watcher = state.withLock { $0.watchers.removeValue(forKey: id) }
        watcher?.continuation.finish()
    }

    func watchCount(_ collection: String) -> Int {
        state.withLock { state in state.watchers.values.filter { $0.collection == collection }.count }
    }

    /// Closes every open watch, as an API server restart or a load balancer timeout would.
    func dropWatches() {
        let watchers = state.withLock { state in
            defer { state.watchers = [:] }
            return state.watchers
        }
        watchers.values.forEach { $0.continuation.finish() }
    }

    /// Forgets the event history, so watches from any earlier version get 410 Gone.
    func compact() {
        state.withLock { state in
            state.history = []
            state.compactedThrough = state.version
        }
    }

    // MARK: Encoding

    static func inNamespace(_ object: JSONValue, _ namespace: String?) -> Bool {
        guard let namespace else { return true }
        return object["metadata"]?["namespace"]?.stringValue == namespace
    }

    static func eventLine(type: String, object: JSONValue) -> ByteBuffer {
        var buffer = ByteBuffer(data: (try? KubeJSON.encoder().encode(["type": .string(type), "object": object] as JSONValue)) ?? Data())
        buffer.writeString("\n")
        return buffer
    }

    static func json(_ value: some Encodable) -> JSONValue {
        guard let data = try? KubeJSON.encoder().encode(value), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else { return .null }
        return json
    }
}
