import Foundation
import Logging
import MantaKube
import MantaTestSupport
import MantaTransfer
import Testing

@Suite(.timeLimit(.minutes(3))) struct ClientMachineryTests {
    @Test func modifyRetriesAConflictFromAFreshRead() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a"))
            env.store.interfere(with: "a", times: 2)
            let attempts = Locked(0)
            let updated = try await env.client.modify(Torrent.self, name: "a") { torrent in
                attempts.mutate { $0 += 1 }
                torrent.spec.replicas = 3
                return true
            }
            #expect(updated?.spec.replicas == 3)
            #expect(attempts.value == 3)
            // The fresh read kept the other writer's change.
            #expect(updated?.metadata.annotations?["test/interference"] != nil)
        }
    }

    @Test func throttledRequestsAreRetriedAfterRetryAfter() async throws {
        let clock = ManualClock()
        try await KubeTestEnvironment.with(clientClock: clock) { env in
            env.store.throttle(times: 3, retryAfterSeconds: 7)
            let creating = Task { try await env.client.create(Torrent.sample("patient")) }
            for attempt in 1...3 {
                let waitEnds = ManualClock.Instant(offset: .seconds(7 * attempt))
                try await eventually("throttled attempt \(attempt) waits out its Retry-After") { clock.nextDeadline == waitEnds }
                clock.advance(to: waitEnds.advanced(by: .milliseconds(-1)))
                #expect(clock.nextDeadline == waitEnds, "the client waits the whole Retry-After")
                clock.advance(to: waitEnds)
            }
            _ = try await creating.value
            #expect(clock.now.offset == .seconds(21))
            #expect(try await env.client.get(Torrent.self, name: "patient").name == "patient")
        }
    }

    @Test func persistentThrottlingReachesTheCaller() async throws {
        try await KubeTestEnvironment.with { env in
            env.store.throttle(times: 100)
            do {
                _ = try await env.client.list(Torrent.self)
                Issue.record("a request throttled every time succeeded")
            } catch let error as KubeError {
                #expect(error.statusCode == 429)
            }
        }
    }

    @Test func modifyGivesUpAfterItsAttempts() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("a"))
            env.store.interfere(with: "a", times: 10)
            do {
                try await env.client.modify(Torrent.self, name: "a", attempts: 3) { torrent in
                    torrent.spec.replicas = 3
                    return true
                }
                Issue.record("modify succeeded despite conflicts on every attempt")
            } catch let error as KubeError {
                #expect(error.isConflict)
            }
        }
    }

    @Test func informerResumesAfterADisconnectWithoutListingAgain() async throws {
        try await KubeTestEnvironment.with { env in
            let seen = Locked<Set<String>>([])
            let informer = Informer<Torrent>(client: env.client, backoff: Backoff(initial: .milliseconds(10)), logger: quietLogger) { event in
                if case .added(let torrent) = event { seen.mutate { _ = $0.insert(torrent.name) } }
            }
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            _ = try await env.client.create(Torrent.sample("a"))
            try await eventually("informer sees a") { seen.mutate { $0.contains("a") } }
            env.store.dropWatches()
            _ = try await env.client.create(Torrent.sample("b"))
            try await eventually("informer sees b after reconnecting") { informer.get("b") != nil }
            #expect(env.store.count("WATCH manta.io/torrents") >= 2)
            #expect(env.store.count("GET manta.io/torrents") == 1, "a disconnect resumes the watch, it does not list again")
            #expect(seen.value == ["a", "b"])
        }
    }

    @Test func informerListsAgainAfterGoneAndReportsDeletionsItMissed() async throws {
        try await KubeTestEnvironment.with { env in
            _ = try await env.client.create(Torrent.sample("old"))
            let deleted = Locked<[String]>([])
            let informer = Informer<Torrent>(client: env.client, backoff: Backoff(initial: .milliseconds(10)), logger: quietLogger) { event in
                if case .deleted(let torrent) = event { deleted.mutate { $0.append(torrent.name) } }
            }
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            #expect(informer.get("old") != nil)
            // While the watch is down the history is compacted: resuming is impossible, a relist is needed.
            env.store.setWatchesAvailable(false)
            env.store.dropWatches()
            try await env.client.delete(Torrent.self, name: "old")
            _ = try await env.client.create(Torrent.sample("new"))
            env.store.compact()
            env.store.setWatchesAvailable(true)
            try await eventually("informer relists after 410") { informer.get("new") != nil && informer.get("old") == nil }
            #expect(deleted.value == ["old"])
            #expect(env.store.count("GET manta.io/torrents") == 2)
        }
    }

    @Test func informerFollowsBookmarks() async throws {
        try await KubeTestEnvironment.with(bookmarkInterval: .milliseconds(30)) { env in
            let informer = Informer<Torrent>(client: env.client, logger: quietLogger) { _ in }
            let task = Task { await informer.run() }
            defer { task.cancel() }
            await informer.waitForSync()
            // A write to another collection moves the global version; only a bookmark tells the informer.
            _ = try await env.client.create(Node(name: "n1"))
            let version = String(env.store.currentVersion())
            try await eventually("informer version follows the bookmark") { informer.lastResourceVersion == version }
        }
    }

    @Test func workQueueHoldsEachKeyOnceAndNeverHandsItOutTwice() async throws {
        let queue = WorkQueue()
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        #expect(await queue.count == 2)
        let first = await queue.next()
        #expect(first == "a")
        await queue.add("a")
        #expect(await queue.next() == "b")
        #expect(await queue.count == 0)
        await queue.done("a")
        #expect(await queue.next() == "a")
        await queue.shutdown()
        #expect(await queue.next() == nil)
    }

    @Test func workQueueBacksOffExponentiallyAndForgets() async throws {
        let clock = ManualClock()
        let queue = WorkQueue(baseDelay: .milliseconds(40), maxDelay: .seconds(1), clock: clock)
        for (failures, delay) in [(1, 40), (2, 80), (3, 160)] {
            await queue.addRateLimited("a")
            let asked = clock.now
            #expect(try await clock.run { await queue.next() } == "a")
            #expect(asked.duration(to: clock.now) == .milliseconds(delay), "after \(failures) failures")
            await queue.done("a")
        }
        #expect(await queue.failureCount("a") == 3)
        await queue.forget("a")
        #expect(await queue.failureCount("a") == 0)
        await queue.shutdown()
    }

    @Test func workQueueDelayedAddsKeepTheEarliestDeadline() async throws {
        let clock = ManualClock()
        let queue = WorkQueue(clock: clock)
        await queue.add("ttl", after: .seconds(30))
        await queue.add("ttl", after: .milliseconds(50))
        await queue.add("ttl", after: .seconds(10))
        #expect(await queue.count == 0, "nothing is due yet")
        #expect(try await clock.run { await queue.next() } == "ttl")
        #expect(clock.now.offset == .milliseconds(50))
        await queue.shutdown()
    }

    @Test func onlyOneElectorLeadsAndAnotherTakesOverWhenItStops() async throws {
        try await KubeTestEnvironment.with { env in
            func elector(_ identity: String) -> LeaderElector {
                LeaderElector(
                    client: env.client,
                    configuration: LeaderElectionConfiguration(
                        namespace: "manta-system", identity: identity, leaseDuration: .seconds(2), renewDeadline: .seconds(1),
                        retryPeriod: .milliseconds(50)))
            }
            let first = elector("one")
            let second = elector("two")
            let (stopSignal, stopFirst) = AsyncStream.makeStream(of: Void.self)
            let leaders = Locked<[String]>([])
            let firstTask = Task {
                try await first.run {
                    leaders.mutate { $0.append("one") }
                    for await _ in stopSignal { break }
                }
            }
            try await eventually("one leads") { leaders.value == ["one"] }
            let secondTask = Task {
                try await second.run { leaders.mutate { $0.append("two") } }
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(leaders.value == ["one"], "two must not lead while one renews")
            stopFirst.finish()
            try await firstTask.value
            try await secondTask.value
            #expect(leaders.value == ["one", "two"])
            let lease = try await env.client.get(Lease.self, name: "manta-controller", namespace: "manta-system")
            #expect(lease.spec?.leaseTransitions == 1)
        }
    }

    @Test func eventsAreRecordedAgainstTheObject() async throws {
        try await KubeTestEnvironment.with { env in
            let torrent = try await env.client.create(Torrent.sample("a"))
            let recorder = EventRecorder(client: env.client)
            await recorder.record(torrent, .warning, reason: "ResolveFailed", message: "repo not found")
            let events = try await env.client.list(Event.self, namespace: "default").items
            #expect(events.count == 1)
            #expect(events.first?.involvedObject.name == "a")
            #expect(events.first?.involvedObject.uid == torrent.metadata.uid)
            #expect(events.first?.reason == "ResolveFailed" && events.first?.type == "Warning")
        }
    }
}
