import Foundation
import MantaHub
import MantaStore
import MantaTestSupport

/// A hub serving fixture folders as repositories (`<tmp>/hub/<org>/<name>` links to the fixture), and a
/// fresh store beside it.
struct PullTestHub {
    let directory: TemporaryDirectory
    let server: HubServer
    let address: HubServerAddress

    var hubRoot: String { directory.appending("hub") }
    var storeRoot: String { directory.appending("store") }

    func client(maximumAttempts: Int = 5) throws -> HubClient { try testClient(address, maximumAttempts: maximumAttempts) }

    func openStore(_ root: String? = nil) async throws -> Store {
        let root = root ?? storeRoot
        return try await blocking { try Store(root: root) }
    }

    func pull(_ repo: String, filename: String? = nil, into store: Store) async throws -> PullSummary {
        try await ModelPuller(store: store, client: client()).pull(HubModelReference(repo), filename: filename)
    }
}

/// Runs `body` with a hub on 127.0.0.1 (OS-chosen port) serving `models` (repo id → fixture folder).
func withPullHub<Result: Sendable>(
    _ models: [String: String],
    maximumBytesPerSecond: Int? = nil,
    _ body: (PullTestHub) async throws -> Result
) async throws -> Result {
    let directory = try TemporaryDirectory("manta-pull")
    try FileManager.default.createDirectory(atPath: directory.appending("hub"), withIntermediateDirectories: true)
    for (repo, folder) in models {
        let link = directory.appending("hub/\(repo)")
        try FileManager.default.createDirectory(atPath: (link as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: folder)
    }
    let configuration = try HubServerConfiguration(root: directory.appending("hub"), maximumBytesPerSecond: maximumBytesPerSecond)
    let server = HubServer(configuration: configuration)
    return try await server.withRunning { address in
        try await body(PullTestHub(directory: directory, server: server, address: address))
    }
}

/// Every regular file below `folder` (relative path → bytes), as a hub serves them (`.git` skipped).
func folderContents(_ folder: String) throws -> [String: Data] {
    var contents: [String: Data] = [:]
    let root = URL(fileURLWithPath: folder).resolvingSymlinksInPath()
    guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [:] }
    for case let url as URL in walker where (try url.resourceValues(forKeys: [.isRegularFileKey])).isRegularFile == true {
        let relative = String(url.resolvingSymlinksInPath().path.dropFirst(root.path.count + 1))
        if relative.hasPrefix(".git/") { continue }
        contents[relative] = try Data(contentsOf: url)
    }
    return contents
}

/// Ids of every chunk file in the store.
func chunkFiles(in store: Store) -> Set<ChunkID> {
    Set(ChunkFiles.list(storeRoot: store.root).map(\.id))
}

extension Manifest {
    /// The files without the hub's git blob ids, as an import (which has no hub to give them) describes them.
    var filesWithoutBlobIDs: [Manifest.File] {
        files.map { file in
            var file = file
            file.gitBlobID = nil
            return file
        }
    }
}
