import AsyncHTTPClient
import Foundation
import MantaHub
import MantaStore
import NIOCore
import NIOHTTP1
import Testing

@Suite struct HubServerTests {
    static func send(_ url: String, method: HTTPMethod = .GET, headers: [(String, String)] = []) async throws -> (HTTPClientResponse, [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (response, Array(body.readableBytesView))
    }

    @Test func headOfAnLFSFileCarriesTheHeadersHuggingFaceHubReads() async throws {
        try await withTestHub { _, address, repository in
            let commit = try await testClient(address).resolveCommit(HubModelReference(repo: TestRepository.repo))
            let (response, body) = try await Self.send("\(address.endpoint)/acme/tiny/resolve/main/model.safetensors", method: .HEAD)
            let sha = repository.sha256("model.safetensors").hex
            let size = repository.bytes("model.safetensors").count
            #expect(response.status == .ok)
            #expect(body.isEmpty)
            #expect(response.headers.first(name: "ETag") == "\"\(sha)\"")
            #expect(response.headers.first(name: "X-Linked-Etag") == "\"\(sha)\"")
            #expect(response.headers.first(name: "X-Linked-Size") == "\(size)")
            #expect(response.headers.first(name: "Content-Length") == "\(size)")
            #expect(response.headers.first(name: "X-Repo-Commit") == commit)
            #expect(response.headers.first(name: "Accept-Ranges") == "bytes")
        }
    }

    @Test func metricsCountTheFileBytesServedWithoutTheHubToken() async throws {
        try await withTestHub { _, address, repository in
            _ = try await Self.send("\(address.endpoint)/acme/tiny/resolve/main/config.json")
            let (response, body) = try await Self.send("\(address.endpoint)/metrics")
            #expect(response.status == .ok)
            #expect(String(decoding: body, as: UTF8.self).contains("manta_hub_served_bytes \(repository.bytes("config.json").count)\n"))
        }
    }

    @Test func rangeRequestsGetPartialContentAndImpossibleRangesGet416() async throws {
        try await withTestHub { _, address, repository in
            let url = "\(address.endpoint)/acme/tiny/resolve/main/nested/deeper/tokenizer.json"
            let bytes = repository.bytes("nested/deeper/tokenizer.json")
            let (partial, partialBody) = try await Self.send(url, headers: [("Range", "bytes=2-5")])
            #expect(partial.status == .partialContent)
            #expect(partial.headers.first(name: "Content-Range") == "bytes 2-5/\(bytes.count)")
            #expect(partialBody == Array(bytes[2...5]))
            let (suffix, suffixBody) = try await Self.send(url, headers: [("Range", "bytes=-3")])
            #expect(suffix.status == .partialContent)
            #expect(suffixBody == Array(bytes.suffix(3)))
            let (beyond, _) = try await Self.send(url, headers: [("Range", "bytes=\(bytes.count)-")])
            #expect(beyond.status == .rangeNotSatisfiable)
            #expect(beyond.headers.first(name: "Content-Range") == "bytes */\(bytes.count)")
        }
    }

    @Test func treeListsFoldersAndFilesRecursivelyOrOneLevel() async throws {
        try await withTestHub { _, address, _ in
            struct Entry: Decodable, Equatable {
                var type: String
                var path: String
            }
            let base = "\(address.endpoint)/api/models/acme/tiny/tree/main"
            let (_, recursive) = try await Self.send(base + "?recursive=true")
            let all = try JSONDecoder().decode([Entry].self, from: Data(recursive))
            #expect(
                all.map(\.path) == [".gitattributes", "config.json", "model.safetensors", "nested", "nested/deeper", "nested/deeper/tokenizer.json"])
            #expect(all.filter { $0.type == "directory" }.map(\.path) == ["nested", "nested/deeper"])
            let (_, top) = try await Self.send(base)
            #expect(
                try JSONDecoder().decode([Entry].self, from: Data(top)).map(\.path) == [
                    ".gitattributes", "config.json", "model.safetensors", "nested",
                ])
            let (_, sub) = try await Self.send(base + "/nested")
            #expect(try JSONDecoder().decode([Entry].self, from: Data(sub)) == [Entry(type: "directory", path: "nested/deeper")])
        }
    }

    @Test func pathsInfoDescribesOnlyTheAskedPaths() async throws {
        try await withTestHub { _, address, repository in
            struct Entry: Decodable {
                var path: String
                var size: Int64
                var lfs: LFS?
                struct LFS: Decodable { var oid: String }
            }
            var request = HTTPClientRequest(url: "\(address.endpoint)/api/models/acme/tiny/paths-info/main")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: "paths=model.safetensors&paths=config.json&expand=false"))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let entries = try JSONDecoder().decode([Entry].self, from: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView))
            #expect(entries.map(\.path) == ["config.json", "model.safetensors"])
            #expect(entries.last?.lfs?.oid == repository.sha256("model.safetensors").hex)
        }
    }

    @Test func commitShaIsDeterministicAcrossServerRuns() async throws {
        let repository = try TestRepository()
        defer { repository.remove() }
        var commits: [String] = []
        for _ in 0..<2 {
            let server = HubServer(configuration: try HubServerConfiguration(root: repository.path))
            commits.append(
                try await server.withRunning { address in
                    try await testClient(address).resolveCommit(HubModelReference(repo: TestRepository.repo))
                })
        }
        #expect(commits[0] == commits[1])
    }

    @Test func pathTraversalInTheURLNeverReachesTheFileSystem() async throws {
        try await withTestHub { _, address, _ in
            for path in ["/acme/tiny/resolve/main/..%2F..%2Fetc%2Fpasswd", "/acme/tiny/resolve/main/nested/%2E%2E/config.json"] {
                let (response, body) = try await Self.send(address.endpoint + path)
                #expect([400, 404].contains(Int(response.status.code)), "\(path) → \(response.status)")
                #expect(!String(decoding: body, as: UTF8.self).contains("root:"))
            }
        }
    }

    @Test func filesAtTheThresholdOrInWeightFormatsAreLFSAndOthersAreNot() async throws {
        let repository = try TestRepository()
        defer { repository.remove() }
        let configuration = try HubServerConfiguration(root: repository.path, lfsThreshold: 40)
        let snapshot = try await HubServer(configuration: configuration).withRunning { address in
            try await testClient(address).snapshot(of: HubModelReference(repo: TestRepository.repo))
        }
        let lfsPaths = snapshot.files.filter { $0.lfs != nil }.map(\.path)
        // config.json has 40 bytes (at the threshold), tokenizer.json 27, .gitattributes 50.
        #expect(lfsPaths == [".gitattributes", "config.json", "model.safetensors"])
        #expect(snapshot.file(at: "config.json")?.sha256 == repository.sha256("config.json"))
    }

    @Test func revisionFolderWithAnEncodedSlashServesThatRevision() async throws {
        try await withTestHub { _, address, repository in
            let folder = repository.root.appendingPathComponent("acme/tiny@refs%2Fpr%2F1")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Data("pr".utf8).write(to: folder.appendingPathComponent("README.md"))
            let client = try testClient(address)
            let snapshot = try await client.snapshot(of: HubModelReference("acme/tiny@refs/pr/1"))
            #expect(snapshot.files.map(\.path) == ["README.md"])
            let bytes = try await client.fetch(HubFileLocation(snapshot: snapshot, file: snapshot.files[0]), range: 0..<2)
            #expect(bytes.bytes == Array("pr".utf8))
        }
    }
}
