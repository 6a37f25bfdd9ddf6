import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MantaKube
import NIOCore

/// A Kubernetes API server over an ``APIStore``, for `manta up` and the tests. It implements what the client
/// and controller rely on: resource versions, list+watch with replay, 410 Gone after compaction, bookmarks,
/// the status subresource, finalizers and deletionTimestamp, generation, 409 conflicts, merge and JSON
/// patches, label and field selectors, and the Torrent CRD's defaults and validation.
public struct EmbeddedAPIServer: Sendable {
    public let store: APIStore
    /// How often each watch gets a BOOKMARK.
    public var bookmarkInterval: Duration
    /// When set, watch events are written in pieces of this many bytes, so lines straddle network chunks.
    public var watchFragmentBytes: Int?

    public init(store: APIStore = APIStore(), bookmarkInterval: Duration = .seconds(1), watchFragmentBytes: Int? = nil) {
        self.store = store
        self.bookmarkInterval = bookmarkInterval
        self.watchFragmentBytes = watchFragmentBytes
    }

    public func respond(_ request: Request) async throws -> Response {
        let path = request.uri.path
        if request.method == .get, let answer = discovery(path) ?? openAPI(path) { return answer }
        guard let route = APIRoute(path: path) else {
            return Self.status(404, "NotFound", "the server could not find the requested resource (\(path))")
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        var body = ByteBuffer()
        if request.method != .get {
            var request = request
            body = try await request.collectBody(upTo: 16 << 20)
        }
        let options: WriteOptions
        do { options = try WriteOptions(query: query, body: body) } catch { return Self.error(error) }
        switch (request.method, route.name, route.subresource) {
        case (.get, nil, nil):
            let selector: ResourceSelector
            do {
                selector = try ResourceSelector(label: query["labelSelector"], field: query["fieldSelector"])
            } catch {
                return Self.status(400, "BadRequest", "\(error)")
            }
            if let watch = query["watch"], watch == "true" || watch == "1" {
                return watchResponse(
                    route, selector: selector, query: query, table: route.collection.id == Self.torrents.id && Self.wantsTable(request))
            }
            let (items, version) = store.list(route.collection, namespace: route.namespace, selector: selector)
            if route.collection.id == Self.torrents.id, Self.wantsTable(request) { return Self.torrentTable(items, resourceVersion: version) }
            let list: JSONValue = [
                "apiVersion": .string(route.collection.apiVersion), "kind": .string((APIStore.kinds[route.collection.id] ?? "") + "List"),
                "metadata": ["resourceVersion": .string(String(version))], "items": .array(items),
            ]
            return Self.json(200, list)
        case (.get, let name?, _):
            guard let object = store.object(route.collection, key: route.key(name)) else { return Self.notFound(route, name) }
            if route.collection.id == Self.torrents.id, route.subresource == nil, Self.wantsTable(request) {
                return Self.torrentTable([object], resourceVersion: store.currentVersion())
            }
            return Self.json(200, object)
        case (.post, nil, nil):
            return create(route, body: body, options: options)
        case (.put, let name?, let subresource):
            return update(route, name: name, subresource: subresource, options: options, replacement: { _ in try Self.decode(body) })
        case (.patch, let name?, let subresource):
            let contentType = request.headers[.contentType] ?? ""
            return update(route, name: name, subresource: subresource, options: options, isPatch: true) { current in
                if contentType.hasPrefix("application/merge-patch+json") {
                    return current.merging(patch: try Self.decode(body))
                } else if contentType.hasPrefix("application/json-patch+json") {
                    let operations = try KubeJSON.decoder().decode([JSONPatchOperation].self, from: body)
                    return try JSONPatcher.apply(operations, to: current)
                }
                throw APIRequestError(
                    code: 415, reason: "UnsupportedMediaType", message: "the body of the request was in an unknown format: \(contentType)")
            }
        case (.delete, let name?, nil):
            return delete(route, name: name, options: options)
        default:
            return Self.status(405, "MethodNotAllowed", "\(request.method) is not supported on \(path)")
        }
    }

    // MARK: Handlers

    private func create(_ route: APIRoute, body: ByteBuffer, options: WriteOptions) -> Response {
        var object: JSONValue
        do { object = try Self.decode(body) } catch { return Self.error(error) }
        let warnings = Self.warnings(route, object, options)
        let now = Self.timestamp(Date())
        return store.state.withLock { state in
            if object["metadata"]?["name"]?.stringValue == nil, let prefix = object["metadata"]?["generateName"]?.stringValue {
                object["metadata"]?["name"] = .string(prefix + String(state.version + 1, radix: 36))
            }
            guard let name = object["metadata"]?["name"]?.stringValue, !name.isEmpty else {
                return Self.status(422, "Invalid", "metadata.name: Required value: name or generateName is required")
            }
            if route.collection.group == "manta.io", route.collection.plural == "torrents" {
                do { object = try TorrentSchema.admit(object, old: nil, name: name, strict: options.fieldValidation == .strict) } catch {
                    return Self.error(error)
                }
            }
            if route.collection.id == "/events" {
                // As the API server's legacy Event validation: an object without a namespace means `default`.
                let involved = object["involvedObject"]?["namespace"]?.stringValue ?? "default"
                guard involved == route.namespace else {
                    return Self.status(
                        422, "Invalid",
                        "Event \"\(name)\" is invalid: involvedObject.namespace: Invalid value: \"\(involved)\": does not match event.namespace")
                }
            }
            let key = route.key(name)
            if state.objects[route.collection.id]?[key] != nil {
                return Self.status(409, "AlreadyExists", "\(route.collection.plural).\(route.collection.group) \"\(name)\" already exists")
            }
            if APIStore.statusCollections.contains(route.collection.id) { object["status"] = nil }
            object["metadata"]?["uid"] = .string(UUID().uuidString.lowercased())
            object["metadata"]?["generation"] = 1
            object["metadata"]?["creationTimestamp"] = .string(now)
            object["metadata"]?["deletionTimestamp"] = nil
            if let namespace = route.namespace { object["metadata"]?["namespace"] = .string(namespace) }
            return Self.warning(Self.json(201, commit(route, key: key, type: "ADDED", object: object, options: options, in: &state)), warnings)
        }
    }

    private func update(
        _ route: APIRoute, name: String, subresource: String?, options: WriteOptions, isPatch: Bool = false,
        replacement: (JSONValue) throws -> JSONValue
    ) -> Response {
        let key = route.key(name)
        var warnings: [String] = []
        let response = store.state.withLock { state in
            guard let current = state.objects[route.collection.id]?[key] else { return Self.notFound(route, name) }
            var incoming: JSONValue
            do { incoming = try replacement(current) } catch { return Self.error(error) }
            if subresource == nil { warnings = Self.warnings(route, incoming, options) }
            let currentVersion = current["metadata"]?["resourceVersion"]?.stringValue
            if let requested = incoming["metadata"]?["resourceVersion"]?.stringValue, requested != currentVersion, !(isPatch && requested == "") {
                return Self.status(
                    409, "Conflict",
                    "Operation cannot be fulfilled on \(route.collection.plural).\(route.collection.group) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again"
                )
            }
            let hasStatus = APIStore.statusCollections.contains(route.collection.id)
            var updated = current
            if subresource == "status" {
                guard hasStatus else { return Self.status(404, "NotFound", "\(route.collection.plural) has no status subresource") }
                updated["status"] = incoming["status"]
            } else if subresource != nil {
                return Self.status(404, "NotFound", "unknown subresource \(subresource ?? "")")
            } else {
                updated = incoming
                if hasStatus { updated["status"] = current["status"] }
                // Metadata the server owns.
                for field in ["uid", "creationTimestamp", "deletionTimestamp", "generation", "namespace"] {
                    updated["metadata"]?[field] = current["metadata"]?[field]
                }
                updated["metadata"]?["name"] = .string(name)
                if route.collection.group == "manta.io", route.collection.plural == "torrents" {
                    do { updated = try TorrentSchema.admit(updated, old: current, name: name, strict: options.fieldValidation == .strict) } catch {
                        return Self.error(error)
                    }
                }
                if Self.specChanged(current, updated) {
                    updated["metadata"]?["generation"] = .int((current["metadata"]?["generation"]?.intValue ?? 1) + 1)
                }
            }
            updated["metadata"]?["resourceVersion"] = current["metadata"]?["resourceVersion"]
            if updated == current { return Self.json(200, current) }
            let deleting = updated["metadata"]?["deletionTimestamp"].map { $0 != .null } ?? false
            let finalizers = updated["metadata"]?["finalizers"]?.arrayCount ?? 0
            if deleting, finalizers == 0 {
                return Self.json(200, commit(route, key: key, type: "DELETED", object: updated, remove: true, options: options, in: &state))
            }
            return Self.json(200, commit(route, key: key, type: "MODIFIED", object: updated, options: options, in: &state))
        }
        return Self.warning(response, warnings)
    }

    private func delete(_ route: APIRoute, name: String, options: WriteOptions) -> Response {
        let key = route.key(name)
        let now = Self.timestamp(Date())
        return store.state.withLock { state in
            guard var object = state.objects[route.collection.id]?[key] else { return Self.notFound(route, name) }
            if (object["metadata"]?["finalizers"]?.arrayCount ?? 0) > 0 {
                if object["metadata"]?["deletionTimestamp"] == nil {
                    object["metadata"]?["deletionTimestamp"] = .string(now)
                    let generation = object["metadata"]?["generation"]?.intValue ?? 1
                    object["metadata"]?["generation"] = .int(generation + 1)
                    object = commit(route, key: key, type: "MODIFIED", object: object, options: options, in: &state)
                }
                return Self.json(200, object)
            }
            return Self.json(200, commit(route, key: key, type: "DELETED", object: object, remove: true, options: options, in: &state))
        }
    }

    /// Stores a change, or with a dry run only answers what it would store.
    private func commit(
        _ route: APIRoute, key: String, type: String, object: JSONValue, remove: Bool = false, options: WriteOptions, in state: inout APIStore.State
    ) -> JSONValue {
        options.dryRun ? object : store.write(route.collection, key: key, type: type, object: object, remove: remove, in: &state)
    }

    /// The unknown fields of a Torrent written with `fieldValidation=Warn`, as the API server words them.
    private static func warnings(_ route: APIRoute, _ object: JSONValue, _ options: WriteOptions) -> [String] {
        guard options.fieldValidation == .warn, route.collection.id == torrents.id else { return [] }
        return TorrentSchema.unknownFields(in: object, schema: TorrentSchema.openAPI).map { "unknown field \"\($0)\"" }
    }

    /// `table`: each event's object as a Table (`kubectl get -w`).
    private func watchResponse(_ route: APIRoute, selector: ResourceSelector, query: [String: String], table: Bool) -> Response {
        let from = query["resourceVersion"].flatMap { Int64($0) }
        let bookmarks = query["allowWatchBookmarks"] == "true"
        let timeout = query["timeoutSeconds"].flatMap { Int64($0) } ?? 300
        let headers: HTTPFields = [.contentType: "application/json"]
        switch store.startWatch(route.collection, namespace: route.namespace, selector: selector, from: from) {
        case .gone(let line):
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: line))
        case .stream(let stream, let id):
            let store = self.store
            let interval = bookmarkInterval
            let fragment = watchFragmentBytes
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await Task.sleep(for: .seconds(timeout))
                            store.endWatch(id)
                        }
                        if bookmarks {
                            group.addTask {
                                while true {
                                    try await Task.sleep(for: interval)
                                    store.bookmark(id, collection: route.collection)
                                }
                            }
                        }
                        for await event in stream {
                            let line = table ? Self.torrentTableEvent(event) : event
                            guard let fragment else {
                                try await writer.write(line)
                                continue
                            }
                            var rest = line
                            while let piece = rest.readSlice(length: min(fragment, rest.readableBytes)), piece.readableBytes > 0 {
                                try await writer.write(piece)
                            }
                        }
                        group.cancelAll()
                    }
                    store.endWatch(id)
                    try await writer.finish(nil)
                })
        }
    }

    // MARK: Helpers

    private static func specChanged(_ old: JSONValue, _ new: JSONValue) -> Bool {
        var old = old
        var new = new
        for field in ["metadata", "status", "apiVersion", "kind"] {
            old[field] = nil
            new[field] = nil
        }
        return old != new
    }

    static func decode(_ body: ByteBuffer) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: body)
        } catch {
            throw APIRequestError(code: 400, reason: "BadRequest", message: "the body is not JSON: \(error)")
        }
    }

    static func error(_ error: any Error) -> Response {
        if let error = error as? APIRequestError { return status(error.code, error.reason, error.message) }
        return status(400, "BadRequest", "\(error)")
    }

    static func notFound(_ route: APIRoute, _ name: String) -> Response {
        status(404, "NotFound", "\(route.collection.plural).\(route.collection.group) \"\(name)\" not found")
    }

    public static func status(_ code: Int, _ reason: String, _ message: String) -> Response {
        json(code, APIStore.json(KubeStatus(message: message, reason: reason, code: code)))
    }

    public static func json(_ code: Int, _ value: JSONValue) -> Response {
        let data = (try? KubeJSON.encoder().encode(value)) ?? Data()
        return Response(
            status: .init(code: code), headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(data: data)))
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
