import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// The real `huggingface_hub` Python client against `HubServer`. Python 3 with `huggingface_hub` must be
/// installed (`pip install huggingface_hub`); without it this test fails and says so.
@Suite struct HuggingFaceHubCompatibilityTests {
    struct Report: Decodable {
        var sha: String
        var shaV2: String
        var siblings: [String: Sibling]
        var listedFiles: [String]
        var snapshotMain: [String: String]
        /// Git's blob id of each downloaded file, computed by Python as git does.
        var gitBlobsMain: [String: String]
        var configV2: String
        var tokenizerByCommit: String
        var weightsByCommit: String
        var missingRepoError: String
        var missingFileError: String

        struct Sibling: Decodable {
            var size: Int64
            var lfsSHA256: String?
            var blobID: String?
        }
    }

    static let script = #"""
        import hashlib, json, os, sys
        from huggingface_hub import HfApi, hf_hub_download, list_repo_files, snapshot_download
        from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError

        repo = sys.argv[1]

        def sha256(path):
            with open(path, "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()

        def git_blob(path):
            with open(path, "rb") as f:
                data = f.read()
            return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

        api = HfApi()
        info = api.model_info(repo, files_metadata=True)
        info_v2 = api.model_info(repo, revision="v2")
        snapshot = snapshot_download(repo)
        files = {}
        blobs = {}
        for folder, _, names in os.walk(snapshot):
            for name in names:
                full = os.path.join(folder, name)
                files[os.path.relpath(full, snapshot)] = sha256(full)
                blobs[os.path.relpath(full, snapshot)] = git_blob(full)

        def error_name(call):
            try:
                call()
                return "none"
            except RepositoryNotFoundError:
                return "RepositoryNotFoundError"
            except RemoteEntryNotFoundError:
                return "RemoteEntryNotFoundError"

        print(json.dumps({
            "sha": info.sha,
            "shaV2": info_v2.sha,
            "siblings": {s.rfilename: {"size": s.size, "lfsSHA256": s.lfs.sha256 if s.lfs else None, "blobID": s.blob_id} for s in info.siblings},
            "gitBlobsMain": blobs,
            "listedFiles": sorted(list_repo_files(repo)),
            "snapshotMain": files,
            "configV2": sha256(hf_hub_download(repo, "config.json", revision="v2")),
            "tokenizerByCommit": sha256(hf_hub_download(repo, "nested/deeper/tokenizer.json", revision=info.sha)),
            "weightsByCommit": sha256(hf_hub_download(repo, "model.safetensors", revision=info_v2.sha)),
            "missingRepoError": error_name(lambda: hf_hub_download("acme/absent", "config.json")),
            "missingFileError": error_name(lambda: hf_hub_download(repo, "absent.json")),
        }))
        """#

    @Test func huggingFaceHubClientDownloadsByteIdenticalFilesAndCorrectMetadata() async throws {
        try await withTestHub { _, address, repository in
            let work = repository.root.appendingPathComponent("python")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            let scriptURL = work.appendingPathComponent("check_hub.py")
            try Self.script.write(to: scriptURL, atomically: true, encoding: .utf8)
            var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HF_") && $0.key != "HUGGING_FACE_HUB_TOKEN" }
            environment["HF_ENDPOINT"] = address.endpoint
            environment["HF_HOME"] = work.appendingPathComponent("hf-home").path
            environment["HF_HUB_DISABLE_TELEMETRY"] = "1"
            environment["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
            environment["HF_HUB_DISABLE_XET"] = "1"

            let result = try await Program.runAwaitingExit(
                "/usr/bin/env",
                ["python3", scriptURL.path, "\(try TestRepository.repo)"], environment: environment, inheritingEnvironment: false,
                workingDirectory: work.path)
            try #require(
                result.status == 0,
                "python3 with huggingface_hub is required (pip install huggingface_hub); the script failed with status \(result.status):\n\(result.standardError)"
            )
            let report = try JSONDecoder().decode(Report.self, from: Data(result.standardOutput.utf8))

            let client = try testClient(address)
            let main = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo))
            let v2 = try await client.snapshot(of: HubModelReference(repo: TestRepository.repo, revision: "v2"))
            #expect(report.sha == main.commit)
            #expect(report.shaV2 == v2.commit)
            let mainFiles = try #require(repository.revisions["main"])
            #expect(report.listedFiles == mainFiles.keys.sorted())
            #expect(report.snapshotMain == mainFiles.mapValues { SHA256Hasher.hash($0).hex })
            for (path, bytes) in mainFiles {
                let sibling = try #require(report.siblings[path], "sibling \(path)")
                #expect(sibling.size == Int64(bytes.count), "size of \(path)")
                #expect(sibling.lfsSHA256 == (path.hasSuffix(".safetensors") ? SHA256Hasher.hash(bytes).hex : nil), "lfs of \(path)")
                // The real hub's blob ids: git's, of the content or of the LFS pointer file.
                let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:\(SHA256Hasher.hash(bytes).hex)\nsize \(bytes.count)\n"
                let expected = sibling.lfsSHA256 == nil ? report.gitBlobsMain[path] : GitBlobHasher.blobID(of: Array(pointer.utf8))
                #expect(sibling.blobID != nil && sibling.blobID == expected, "blob id of \(path)")
                #expect(main.file(at: path)?.blobID == sibling.blobID, "blob id of \(path) as Manta's client reads it")
            }
            #expect(report.configV2 == repository.sha256("config.json", revision: "v2").hex)
            #expect(report.tokenizerByCommit == repository.sha256("nested/deeper/tokenizer.json").hex)
            #expect(report.weightsByCommit == repository.sha256("model.safetensors", revision: "v2").hex)
            #expect(report.missingRepoError == "RepositoryNotFoundError")
            #expect(report.missingFileError == "RemoteEntryNotFoundError")
        }
    }
}
