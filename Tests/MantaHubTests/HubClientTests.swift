import Foundation
import MantaHub
import MantaStore
import NIOCore
import Testing

@Suite struct HubClientTests {
    @Test func snapshotListsNestedFilesWithSizesAndLFSDigests() async throws {
        try await withTestHub { _, address, repository in
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            #expect(HubRevision.isCommit(snapshot.commit))
            #expect(snapshot.files.map(\.path) == [".gitattributes", "config.json", "model.safetensors", "nested/deeper/tokenizer.json"])
            for file in snapshot.files {
                #expect(file.size == Int64(repository.bytes(file.path).count), "size of \(file.path)")
            }
            let weights = try #require(snapshot.file(at: "model.safetensors"))
            #expect(weights.sha256 == repository.sha256("model.safetensors"))
            #expect(weights.lfs?.size == weights.size)
            #expect(snapshot.file(at: "config.json")?.lfs == nil)
        }
    }

    @Test func revisionsResolveToDistinctStableCommitsAndCommitsResolveToThemselves() async throws {
        try await withTestHub { _, address, repository in
            let client = try testClient(address)
            let main = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let v2 = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo, revision: "v2"))
            #expect(main.commit != v2.commit)
            #expect(try await client.resolveCommit(HubModelReference(repo: TestRepository.repo)) == main.commit)
            let byCommit = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo, revision: v2.commit))
            #expect(byCommit.commit == v2.commit)
            #expect(byCommit.files == v2.files)
            let config = try #require(v2.file(at: "config.json"))
            let bytes = try await client.fetch(HubFileLocation(snapshot: v2, file: config), range: 0..<config.size)
            #expect(bytes.bytes == repository.bytes("config.json", revision: "v2"))
        }
    }

    @Test func filenameOptionNarrowsTheSnapshotToOneFile() async throws {
        try await withTestHub { _, address, _ in
            let client = try testClient(address)
            let reference = try HubModelReference(repo: TestRepository.repo)
            let snapshot = try await client.snapshot(of: reference, filename: "nested/deeper/tokenizer.json")
            #expect(snapshot.files.map(\.path) == ["nested/deeper/tokenizer.json"])
            await #expect(throws: HubError.fileNotFound(repo: try TestRepository.repo, revision: "main", path: "nested/missing.json")) {
                try await client.snapshot(of: reference, filename: "nested/missing.json")
            }
            await #expect(throws: HubError.invalidPath("../etc/passwd")) {
                try await client.snapshot(of: reference, filename: "../etc/passwd")
            }
        }
    }

    @Test func rangedReadsReturnExactlyTheRequestedBytesAndOnlyThoseLeaveTheHub() async throws {
        try await withTestHub { server, address, repository in
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let weights = try #require(snapshot.file(at: "model.safetensors"))
            let location = HubFileLocation(snapshot: snapshot, file: weights)
            let expected = repository.bytes("model.safetensors")
            for range in [0..<8, 100..<70_000, weights.size - 10..<weights.size] as [Range<Int64>] {
                let bytes = try await client.fetch(location, range: range)
                #expect(bytes.bytes == Array(expected[Int(range.lowerBound)..<Int(range.upperBound)]), "range \(range)")
            }
            #expect(server.statistics.bytesServed(repo: try TestRepository.repo, path: "model.safetensors") == 8 + 69_900 + 10)
        }
    }

    @Test func readingPastTheEndIsAClearErrorWithoutRetries() async throws {
        try await withTestHub { server, address, repository in
            let client = try testClient(address)
            let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "config.json")
            let size = Int64(repository.bytes("config.json").count)
            for range in [10_000..<10_010, size - 5..<size + 5] as [Range<Int64>] {
                await #expect {
                    try await client.fetch(location, range: range)
                } throws: { error in
                    guard case .rangeNotSatisfiable(let repo, let path, _) = error as? HubError else { return false }
                    return repo == (try? TestRepository.repo) && path == "config.json"
                }
            }
            #expect(server.statistics.requestCount == 2)
        }
    }

    @Test func downloadResumesFromThePartialFileAndVerifiesTheResult() async throws {
        try await withTestHub { server, address, repository in
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let weights = try #require(snapshot.file(at: "model.safetensors"))
            let expected = repository.bytes("model.safetensors")
            let destination = repository.root.appendingPathComponent("partial.safetensors")
            try Data(expected[..<150_000]).write(to: destination)

            try await client.download(weights, of: snapshot, to: destination.path)

            #expect(try Data(contentsOf: destination) == Data(expected))
            #expect(server.statistics.bytesServed(repo: try TestRepository.repo, path: "model.safetensors") == Int64(expected.count - 150_000))
            // A second download of a complete file sends nothing.
            try await client.download(weights, of: snapshot, to: destination.path)
            #expect(server.statistics.bytesServed(repo: try TestRepository.repo, path: "model.safetensors") == Int64(expected.count - 150_000))
        }
    }

    @Test func streamHandsEveryByteOnceInOrder() async throws {
        try await withTestHub { _, address, repository in
            let client = try testClient(address)
            let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "model.safetensors")
            var received: [UInt8] = []
            let count = try await client.stream(location) { buffer in received += buffer.readableBytesView }
            #expect(received == repository.bytes("model.safetensors"))
            #expect(count == Int64(received.count))
        }
    }

    @Test func consumerErrorsStopTheStreamWithoutRetrying() async throws {
        struct DiskFull: Error, Equatable {}
        try await withTestHub { server, address, _ in
            let client = try testClient(address)
            let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "model.safetensors")
            await #expect(throws: DiskFull()) {
                try await client.stream(location) { _ in throw DiskFull() }
            }
            #expect(server.statistics.requestCount == 1)
        }
    }

    @Test func tokenIsSentAndAcceptedByAProtectedHub() async throws {
        try await withTestHub(token: "s3cret") { server, address, _ in
            let client = try testClient(address, token: "s3cret")
            let snapshot = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            #expect(snapshot.files.count == 4)
            #expect(server.statistics.requestsWithAuthorization == server.statistics.requestCount)
        }
    }

    @Test func rateLimitedHubSendsNoFasterThanItsCap() async throws {
        let rate = 1024 * 1024
        try await withTestHub(maximumBytesPerSecond: rate) { _, address, _ in
            let client = try testClient(address)
            let location = try HubFileLocation(repo: TestRepository.repo, revision: "main", path: "model.safetensors")
            let clock = ContinuousClock()
            let start = clock.now
            let bytes = try await client.fetch(location, range: 0..<(256 * 1024))
            let elapsed = clock.now - start
            #expect(bytes.readableBytes == 256 * 1024)
            // 256 KiB at 1 MiB/s is 250 ms; the bucket allows a 50 ms burst.
            #expect(elapsed >= .milliseconds(190), "took \(elapsed)")
        }
    }
}
