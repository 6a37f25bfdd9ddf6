import Logging
import MantaTransfer
import Synchronization

/// A change the informer applied to its cache.
public enum InformerEvent<R: KubeResource>: Sendable {
    case added(R)
    case updated(old: R, new: R)
    case deleted(R)

    public var object: R {
        switch self {
        case .added(let object), .updated(_, let object), .deleted(let object): object
        }
    }
}

/// Keeps a local copy of a collection current: lists, then watches from the list's version; after a
/// disconnect it resumes from the last version seen (bookmarks included), after `410 Gone` it lists again.
public final class Informer<R: KubeResource>: Sendable {
    private struct State {
        var objects: [String: R] = [:]
        var resourceVersion: String?
        var synced = false
        var syncWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let client: KubeClient
    private let namespace: String?
    private let labelSelector: String?
    private let backoff: Backoff
    /// What the backoff between failed watches sleeps on.
    private let clock: Stopwatch
    private let handler: @Sendable (InformerEvent<R>) -> Void
    private let state = Mutex(State())
    private let logger: Logger

    public init(
        client: KubeClient, namespace: String? = nil, labelSelector: String? = nil, backoff: Backoff = Backoff(),
        clock: some Clock<Duration> = ContinuousClock(), logger: Logger = Logger(label: "manta.kube.informer"),
        handler: @escaping @Sendable (InformerEvent<R>) -> Void
    ) {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.backoff = backoff
        self.clock = Stopwatch(clock)
        self.handler = handler
        var logger = logger
        logger[metadataKey: "resource"] = "\(R.resourceType)"
        self.logger = logger
    }

    public func get(_ key: String) -> R? {
        state.withLock { $0.objects[key] }
    }

    public var items: [R] {
        state.withLock { Array($0.objects.values) }
    }

    public var hasSynced: Bool {
        state.withLock { $0.synced }
    }

    /// The version the next watch starts from.
    public var lastResourceVersion: String? {
        state.withLock { $0.resourceVersion }
    }

    /// Returns once the first list is in the cache.
    public func waitForSync() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state in
                if state.synced { return true }
                state.syncWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Runs until the task is cancelled.
    public func run() async {
        defer { releaseSyncWaiters() }
        var backoff = backoff
        var needsList = true
        while !Task.isCancelled {
            do {
                if needsList {
                    try await relist()
                    needsList = false
                }
                let events = try await client.watch(
                    R.self, namespace: namespace, resourceVersion: lastResourceVersion, labelSelector: labelSelector)
                var delivered = false
                for try await event in events {
                    apply(event)
                    delivered = true
                    backoff.reset()
                }
                logger.debug("watch closed by the server, resuming", metadata: ["resourceVersion": "\(lastResourceVersion ?? "")"])
                // A server that keeps closing watches at once must not make this loop spin.
                if !delivered { try await clock.sleep(for: backoff.next()) }
            } catch let error as KubeError where error.isGone {
                logger.info("watch expired, listing again", metadata: ["error": "\(error)"])
                needsList = true
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                let delay = backoff.next()
                logger.warning("watch failed, retrying", metadata: ["error": "\(error)", "delay": "\(delay)"])
                try? await clock.sleep(for: delay)
            }
        }
    }

    /// Lets ``waitForSync()`` callers go when the informer stops before its first list.
    private func releaseSyncWaiters() {
        let waiters = state.withLock { state in
            defer { state.syncWaiters = [] }
            return state.syncWaiters
        }
        waiters.forEach { $0.resume() }
    }

    private func relist() async throws {
        let list = try await client.list(R.self, namespace: namespace, labelSelector: labelSelector)
        var fresh: [String: R] = [:]
        for item in list.items { fresh[item.key] = item }
        let (events, waiters) = state.withLock { state in
            var events: [InformerEvent<R>] = []
            for (key, object) in fresh {
                if let old = state.objects[key] {
                    if old.metadata.resourceVersion != object.metadata.resourceVersion { events.append(.updated(old: old, new: object)) }
                } else {
                    events.append(.added(object))
                }
            }
            for (key, old) in state.objects where fresh[key] == nil { events.append(.deleted(old)) }
            state.objects = fresh
            state.resourceVersion = list.metadata.resourceVersion
            state.synced = true
            defer { state.syncWaiters = [] }
            return (events, state.syncWaiters)
        }
        events.forEach(handler)
        waiters.forEach { $0.resume() }
    }

    private func apply(_ event: WatchEvent<R>) {
        let change: InformerEvent<R>? = state.withLock { state in
            if let version = event.resourceVersion, !version.isEmpty { state.resourceVersion = version }
            switch event {
            case .added(let object), .modified(let object):
                let old = state.objects.updateValue(object, forKey: object.key)
                return old.map { .updated(old: $0, new: object) } ?? .added(object)
            case .deleted(let object):
                state.objects.removeValue(forKey: object.key)
                return .deleted(object)
            case .bookmark:
                return nil
            }
        }
        if let change { handler(change) }
    }
}
