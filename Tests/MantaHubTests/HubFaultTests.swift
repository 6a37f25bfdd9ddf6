import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import MantaTransfer
import NIOCore
import Testing

@Suite struct HubFaultTests {
    @Test func serverErrorsAreRetriedUntilSuccess() async throws {
        try await withTestHub { server, address, repository in
            let client = try testClient(address)
            server.faults.inject(.status(500), times: 2, on: .api)
            server.faults.inject(.status(503), times: 2, on: .resolve)
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let config = try #require(snapshot.file(at: "config.json"))
            let bytes = try await client.fetch(HubFileLocation(snapshot: snapshot, file: config), range: 0..<config.size)
            #expect(bytes.bytes == repository.bytes("config.json"))
            #expect(server.faults.pendingCount == 0)
        }
    }

    @Test func retriesAreBoundedAndTheFinalErrorNamesStatusAndAttempts() async throws {
        try await withTestHub { server, address, _ in
            let client = try testClient(address, maximumAttempts: 3)
            server.faults.inject(.status(502), times: 10, on: .api)
            await #expect {
                try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            } throws: { error in
                guard case .httpStatus(_, _, 502, 3, _) = error as? HubError else { return false }
                return "\(error)".contains("acme/tiny")
            }
            #expect(server.faults.pendingCount == 7)
        }
    }

    @Test func tooManyRequestsWaitsAtLeastRetryAfter() async throws {
        try await withTestHub { server, address, repository in
            let clock = ManualClock()
            let client = try testClient(address, clock: clock)
            server.faults.inject(.status(429, retryAfterSeconds: 30), times: 1, on: .resolve)
            let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "config.json")
            let fetching = Task { try await client.fetch(location, range: 0..<5) }
            let retryAt = ManualClock.Instant(offset: .seconds(30))
            try await eventually("the client waits out the Retry-After") { clock.nextDeadline == retryAt }
            clock.advance(to: retryAt.advanced(by: .milliseconds(-1)))
            #expect(clock.nextDeadline == retryAt, "the client asks again no sooner than Retry-After")
            clock.advance(to: retryAt)
            let bytes = try await fetching.value
            #expect(bytes.bytes == Array(repository.bytes("config.json")[..<5]))
        }
    }

    @Test func connectionResetMidBodyResumesWhereItStopped() async throws {
        try await withTestHub { server, address, repository in
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let weights = try #require(snapshot.file(at: "model.safetensors"))
            server.faults.inject(.resetAfter(bytes: 100_000), times: 2, on: .resolve)
            let destination = repository.root.appendingPathComponent("reset.safetensors")

            try await client.download(weights, of: snapshot, to: destination.path)

            #expect(try Data(contentsOf: destination) == Data(repository.bytes("model.safetensors")))
            #expect(server.faults.pendingCount == 0)
            // Retries asked for what was missing: restarting from zero each time would have sent 200 000 bytes more.
            #expect(server.statistics.bytesServed(repo: try TestRepository.repo, path: "model.safetensors") < weights.size + 200_000)
        }
    }

    @Test func wrongBytesFailTheHashCheckAndNothingIsKept() async throws {
        try await withTestHub { server, address, repository in
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let weights = try #require(snapshot.file(at: "model.safetensors"))
            server.faults.inject(.corruptBody, on: .resolve)
            let destination = repository.root.appendingPathComponent("corrupt.safetensors")

            await #expect {
                try await client.download(weights, of: snapshot, to: destination.path)
            } throws: { error in
                guard case .hashMismatch(_, "model.safetensors", let expected, let actual) = error as? HubError else { return false }
                return expected == repository.sha256("model.safetensors") && actual != expected
            }
            #expect(!FileManager.default.fileExists(atPath: destination.path))
        }
    }

    @Test func missingRepoRevisionAndFileGiveErrorsThatNameThem() async throws {
        try await withTestHub { _, address, _ in
            let client = try testClient(address)
            let missingRepo = try HubRepoID("acme/absent")
            await #expect(throws: HubError.repoNotFound(repo: missingRepo, sentToken: false)) {
                try await client.snapshot(of: HubModelReference(repo: missingRepo))
            }
            await #expect(throws: HubError.revisionNotFound(repo: try TestRepository.repo, revision: "v9")) {
                try await client.snapshot(of: HubModelReference(repo: TestRepository.repo, revision: "v9"))
            }
            let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "nested/none.bin")
            await #expect(throws: HubError.fileNotFound(repo: try TestRepository.repo, revision: "main", path: "nested/none.bin")) {
                try await client.fetch(location, range: 0..<1)
            }
            #expect("\(HubError.repoNotFound(repo: missingRepo, sentToken: false))".contains("acme/absent"))
            #expect("\(HubError.repoNotFound(repo: missingRepo, sentToken: false))".contains("HF_TOKEN"))
        }
    }

    @Test func missingOrWrongTokenIsRefusedWithAdviceToSetHFToken() async throws {
        try await withTestHub(token: "s3cret") { _, address, _ in
            for token in [nil, "wrong"] {
                let client = try testClient(address, token: token)
                await #expect {
                    try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
                } throws: { error in
                    guard case .unauthorized(_, 401, let sentToken, _) = error as? HubError else { return false }
                    return sentToken == (token != nil) && "\(error)".contains("HF_TOKEN") && "\(error)".contains("acme/tiny")
                }
            }
        }
    }

    @Test func gatedRepositorySaysWhereToRequestAccess() async throws {
        try await withTestHub { server, address, _ in
            let client = try testClient(address)
            server.faults.inject(.gated, on: .api)
            await #expect {
                try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            } throws: { error in
                guard case .gated = error as? HubError else { return false }
                return "\(error)".contains("\(address.endpoint)/acme/tiny")
            }
        }
    }

    @Test func crossHostRedirectDropsTheAuthorizationHeader() async throws {
        let mirror = try TestRepository()
        defer { mirror.remove() }
        let cdn = HubServer(configuration: try HubServerConfiguration(root: mirror.path))
        try await cdn.withRunning { cdnAddress in
            try await withTestHub(token: "s3cret") { hub, address, repository in
                let client = try testClient(address, token: "s3cret")
                hub.faults.inject(.redirect(toEndpoint: cdnAddress.endpoint), on: .resolve)
                let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "config.json")
                let bytes = try await client.fetch(location, range: 0..<4)
                #expect(bytes.bytes == Array(repository.bytes("config.json")[..<4]))
                #expect(cdn.statistics.requestCount == 1)
                #expect(cdn.statistics.requestsWithAuthorization == 0)
                #expect(hub.statistics.requestsWithAuthorization == 1)
            }
        }
    }
}
