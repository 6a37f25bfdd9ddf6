import Foundation
import Logging
import MantaKube
import NIOCore
import Synchronization

/// The state of the embedded API server: objects as JSON, a monotonic resource version, the event history that
/// watches replay from, and the live watches. In memory only, or persisted in a folder so that objects and the
/// resource version outlive a restart (the history does not: watches from before a restart get 410 Gone and relist).
public final class APIStore: Sendable {
    public struct Collection: Hashable, Sendable {
        public var group: String
        public var version: String
        public var plural: String

        public init(group: String, version: String, plural: String) {
            self.group = group
            self.version = version
            self.plural = plural
        }

        public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
        public var id: String { "\(group)/\(plural)" }
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
        var selector: ResourceSelector
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
    }

    /// Kinds of the collections served, for list responses.
    static let kinds: [String: String] = [
        "manta.io/torrents": "Torrent", "manta.io/replications": "Replication", "manta.io/nodetrackers": "NodeTracker",
        "/nodes": "Node", "coordination.k8s.io/leases": "Lease", "/events": "Event",
    ]
    /// Collections with a status subresource: the main endpoint ignores status, `/status` ignores the rest.
    static let statusCollections: Set<String> = ["manta.io/torrents", "manta.io/replications", "manta.io/nodetrackers", "/nodes"]

    /// Changes remembered for watches to resume from; older ones are compacted away (410 Gone, then a relist).
    static let historyLimit = 10_000
    /// Events kept; past it the oldest go, as the API server lets Events expire, so a long-running store stays small.
    public static let eventLimit = 1_000

    let state = Mutex(State())
    private let snapshots: APISnapshotFile?

    /// A store in memory only.
    public init() {
        snapshots = nil
    }

    /// A store persisted in `directory`: what was saved there is loaded, and every change is saved (see ``flush()``).
    public init(persistingIn directory: String, logger: Logger) throws(APIStoreError) {
        let file = try APISnapshotFile(directory: directory, logger: logger)
        if let saved = try file.load() {
            state.withLock { state in
                state.version = saved.resourceVersion
                state.compactedThrough = saved.resourceVersion
                state.objects = saved.objects
            }
        }
        snapshots = file
    }

    /// Returns once every change so far is saved (immediately for a store in memory).
    public func flush() async {
        await snapshots?.flush()
    }

    // MARK: Reads

    public func currentVersion() -> Int64 { state.withLock { $0.version } }

    public func object(_ collection: Collection, key: String) -> JSONValue? {
        state.withLock { $0.objects[collection.id]?[key] }
    }

    public func list(_ collection: Collection, namespace: String?, selector: ResourceSelector) -> (items: [JSONValue], version: Int64) {
        state.withLock { state in
            let items = (state.objects[collection.id] ?? [:]).values
                .filter { Self.inNamespace($0, namespace) && selector.matches($0) }
                .sorted { ($0["metadata"]?["name"]?.stringValue ?? "") < ($1["metadata"]?["name"]?.stringValue ?? "") }
            return (items, state.version)
        }
    }

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
        if state.history.count > Self.historyLimit {
            let dropped = state.history.count - Self.historyLimit / 2
            state.compactedThrough = state.history[dropped - 1].version
            state.history.removeFirst(dropped)
        }
        if collection.id == "/events", type == "ADDED", let events = state.objects[collection.id], events.count > Self.eventLimit {
            let oldest = events.min { Self.version(of: $0.value) < Self.version(of: $1.value) }
            if let oldest { write(collection, key: oldest.key, type: "DELETED", object: oldest.value, remove: true, in: &state) }
        }
        snapshots?.schedule { [self] in
            self.state.withLock { APISnapshotFile.Snapshot(resourceVersion: $0.version, objects: $0.objects) }
        }
        for watcher in state.watchers.values where watcher.collection == collection.id {
            if Self.inNamespace(object, watcher.namespace), watcher.selector.matches(object) {
                watcher.continuation.yield(Self.eventLine(type: type, object: object))
            }
        }
        return object
    }

    /// Rewrites the object under `key` with `change`, as a client's update would; false when there is none.
    @discardableResult
    public func modify(_ collection: Collection, key: String, _ change: (inout JSONValue) -> Void) -> Bool {
        state.withLock { state in
            guard var object = state.objects[collection.id]?[key] else { return false }
            change(&object)
            write(collection, key: key, type: "MODIFIED", object: object, in: &state)
            return true
        }
    }

    // MARK: Watches

    enum WatchStart {
        case stream(AsyncStream<ByteBuffer>, id: Int)
        case gone(ByteBuffer)
    }

    func startWatch(_ collection: Collection, namespace: String?, selector: ResourceSelector, from version: Int64?) -> WatchStart {
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

    public func watchCount(_ collection: String) -> Int {
        state.withLock { state in state.watchers.values.filter { $0.collection == collection }.count }
    }

    /// Closes every open watch, as an API server restart or a load balancer timeout would.
    public func dropWatches() {
        let watchers = state.withLock { state in
            defer { state.watchers = [:] }
            return state.watchers
        }
        watchers.values.forEach { $0.continuation.finish() }
    }

    /// Forgets the event history, so watches from any earlier version get 410 Gone.
    public func compact() {
        state.withLock { state in
            state.history = []
            state.compactedThrough = state.version
        }
    }

    // MARK: Encoding

    static func version(of object: JSONValue) -> Int64 {
        object["metadata"]?["resourceVersion"]?.stringValue.flatMap { Int64($0) } ?? 0
    }

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
