import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

@Suite struct PullFaultTests {
    static let repo = "acme/synthetic"

    /// Pulls with faults injected, then checks the export is byte-identical to the fixture.
    private func pullSurvives(_ inject: (HubFaults) -> Void) async throws -> Duration {
        let folder = try Fixtures.syntheticShards()
        return try await withPullHub([Self.repo: folder]) { hub in
            let store = try await hub.openStore()
            inject(hub.server.faults)
            let clock = ContinuousClock()
            let started = clock.now
            let summary = try await hub.pull(Self.repo, into: store)
            let elapsed = clock.now - started
            #expect(hub.server.faults.pendingCount == 0)
            let exported = hub.directory.appending("export")
            let reference = summary.reference
            try await blocking { try store.export(reference, to: exported) }
            #expect(try folderContents(exported) == folderContents(folder))
            return elapsed
        }
    }

    @Test func serverErrorsAreRetriedUntilThePullSucceeds() async throws {
        _ = try await pullSurvives { faults in
            faults.inject(.status(500), times: 2, on: .api)
            faults.inject(.status(503), times: 3, on: .resolve)
        }
    }

    @Test func tooManyRequestsWaitsForRetryAfterThenSucceeds() async throws {
        let elapsed = try await pullSurvives { faults in
            faults.inject(.status(429, retryAfterSeconds: 1), times: 1, on: .resolve)
        }
        #expect(elapsed >= .seconds(1))
    }

    @Test func connectionResetMidBodyResumesAndThePullSucceeds() async throws {
        _ = try await pullSurvives { faults in
            faults.inject(.resetAfter(bytes: 300_000), times: 4, on: .resolve)
        }
    }

    /// The first request for the file reads its header; the second fetches its first chunks.
    @Test(arguments: [1, 2])
    func wrongBytesFailNamingTheFileAndKeepNothingBad(corruptedRequests: Int) async throws {
        let folder = try Fixtures.syntheticShards()
        let corrupted = "model-00002-of-00002.safetensors"
        try await withPullHub([Self.repo: folder]) { hub in
            let store = try await hub.openStore()
            hub.server.faults.inject(.corruptBody, times: corruptedRequests, on: .resolve, pathSuffix: corrupted)

            await #expect {
                try await hub.pull(Self.repo, into: store)
            } throws: { error in
                switch error {
                case HubError.hashMismatch(_, let path, _, _): path == corrupted && "\(error)".contains(corrupted)
                case PullError.headerMismatch(_, let path): path == corrupted && "\(error)".contains(corrupted)
                default: false
                }
            }

            let reference = try RepoReference(parsing: Self.repo)
            #expect(try store.resolve(reference) == nil)
            let report = try await blocking { try store.verify() }
            #expect(report.isClean)
            // Whatever stayed is a chunk of the right files (the good shards may be resumed from).
            let imported = try await hub.openStore(hub.directory.appending("imported"))
            let good = try await blocking { try imported.importDirectory(folder, as: reference) }
            #expect(chunkFiles(in: store).isSubset(of: Set(good.manifest.chunkIDs)))

            let retried = try await hub.pull(Self.repo, into: store)
            #expect(retried.manifest.filesWithoutBlobIDs == good.manifest.files)
        }
    }

    @Test func severalBadFilesAreAllNamed() async throws {
        try await withPullHub([Self.repo: try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            hub.server.faults.inject(.corruptBody, times: 1, on: .resolve, pathSuffix: "model-00001-of-00002.safetensors")
            hub.server.faults.inject(.corruptBody, times: 1, on: .resolve, pathSuffix: "model-00002-of-00002.safetensors")
            await #expect {
                try await hub.pull(Self.repo, into: store)
            } throws: { error in
                guard case .filesFailed(_, let reasons) = error as? PullError, reasons.count == 2 else { return false }
                return "\(error)".contains("model-00001-of-00002.safetensors") && "\(error)".contains("model-00002-of-00002.safetensors")
            }
            #expect(try store.references().isEmpty)
        }
    }

    @Test func aRevisionTheStoreCannotNameIsRefusedBeforeAnyRequest() async throws {
        try await withPullHub([Self.repo: try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            await #expect {
                try await ModelPuller(store: store, client: hub.client()).pull(HubModelReference(repo: HubRepoID(Self.repo), revision: "v1+beta"))
            } throws: { error in
                guard case .revisionNotStorable("v1+beta", _) = error as? PullError else { return false }
                return "\(error)".contains("commit sha")
            }
            #expect(hub.server.statistics.requestCount == 0)
        }
    }

    @Test func missingRepositoryIsReportedByName() async throws {
        try await withPullHub([:]) { hub in
            let store = try await hub.openStore()
            await #expect(throws: HubError.repoNotFound(repo: try HubRepoID("acme/absent"), sentToken: false)) {
                try await hub.pull("acme/absent", into: store)
            }
            #expect(try store.references().isEmpty)
        }
    }

    @Test func gatedRepositorySaysWhereToAskForAccess() async throws {
        try await withPullHub([Self.repo: try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            hub.server.faults.inject(.gated, on: .api)
            await #expect {
                try await hub.pull(Self.repo, into: store)
            } throws: { error in
                guard case .gated = error as? HubError else { return false }
                return "\(error)".contains("\(hub.address.endpoint)/\(Self.repo)")
            }
            #expect(try store.references().isEmpty)
        }
    }

    @Test func missingFileIsReportedByName() async throws {
        try await withPullHub([Self.repo: try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            await #expect {
                try await hub.pull(Self.repo, filename: "absent.bin", into: store)
            } throws: { error in
                guard case .fileNotFound(_, _, "absent.bin") = error as? HubError else { return false }
                return true
            }
        }
    }
}
