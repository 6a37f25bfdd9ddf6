import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// The `manta pull` and `manta hub serve` commands as separate processes.
@Suite(.serialized) struct PullProcessTests {
    /// The caller's environment without its hub settings: anonymous, and the endpoint given.
    static func environment(endpoint: String, home: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("HF_") && !$0.key.hasPrefix("HUGGING_FACE") }
        environment["HF_ENDPOINT"] = endpoint
        environment["HF_HOME"] = home
        return environment
    }

    @Test func pullKilledMidTransferResumesWithoutFetchingTwice() async throws {
        let folder = try Fixtures.syntheticShards()
        let modelSize = try folderContents(folder).values.reduce(0) { $0 + Int64($1.count) }
        try await withPullHub(["acme/synthetic": folder], maximumBytesPerSecond: 12_000_000) { hub in
            let manta = try MantaProcess.binaryPath()
            let environment = Self.environment(endpoint: hub.address.endpoint, home: hub.directory.path)
            let arguments = [manta, "pull", "acme/synthetic", "--store", hub.storeRoot]

            let child = try ChildProcess.start(arguments, environment: environment)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(60)
            while hub.server.statistics.totalBytesServed < modelSize / 2, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            kill(child.pid, SIGKILL)
            let killedStatus = await child.status.value
            #expect(killedStatus != 0, "the pull finished before it could be killed")
            #expect(hub.server.statistics.totalBytesServed < modelSize)

            let rerun = try await Program.runAwaitingExit(
                "/usr/bin/env", arguments, environment: environment, inheritingEnvironment: false, workingDirectory: hub.directory.path)
            #expect(rerun.status == 0, "\(rerun.standardError)")
            #expect(rerun.standardOutput.contains("pulled acme/synthetic@main"))
            let verify = try await Program.runAwaitingExit(
                "/usr/bin/env",
                [manta, "verify", "--store", hub.storeRoot], environment: environment, inheritingEnvironment: false,
                workingDirectory: hub.directory.path
            )
            #expect(verify.status == 0, "\(verify.standardOutput)")
            #expect(hub.server.statistics.totalBytesServed < modelSize * 3 / 2)

            let store = try await hub.openStore()
            let exported = hub.directory.appending("export")
            try await blocking { try store.export(try RepoReference(parsing: "acme/synthetic"), to: exported) }
            #expect(try folderContents(exported) == folderContents(folder))
            #expect(try FileManager.default.contentsOfDirectory(atPath: hub.storeRoot + "/partial").isEmpty)
        }
    }

    @Test func hubServePrintsItsEndpointAndServesPullsOfOneFile() async throws {
        let directory = try TemporaryDirectory("manta-serve")
        let repoFolder = directory.appending("hub/acme/real")
        try FileManager.default.createDirectory(atPath: directory.appending("hub/acme"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: repoFolder, withDestinationPath: try Fixtures.realModel())
        let manta = try MantaProcess.binaryPath()

        let server = try ChildProcess.start(
            [manta, "hub", "serve", directory.appending("hub"), "--addr", "127.0.0.1:0"], environment: [:], captureOutput: true)
        let firstLine = try await server.firstOutputLine()
        let endpoint = try #require(firstLine.split(separator: "=", maxSplits: 1).last.map(String.init))
        #expect(firstLine.hasPrefix("HF_ENDPOINT=http://127.0.0.1:"))

        let environment = Self.environment(endpoint: endpoint, home: directory.path)
        let store = directory.appending("store")
        let pull = try await Program.runAwaitingExit(
            "/usr/bin/env",
            [manta, "pull", "acme/real", "--file", "config.json", "--store", store], environment: environment, inheritingEnvironment: false,
            workingDirectory: directory.path
        )
        #expect(pull.status == 0, "\(pull.standardError)")
        let again = try await Program.runAwaitingExit(
            "/usr/bin/env",
            [manta, "pull", "acme/real", "--file", "config.json", "--store", store], environment: environment, inheritingEnvironment: false,
            workingDirectory: directory.path
        )
        #expect(again.standardOutput.contains("up to date"))
        let missing = try await Program.runAwaitingExit(
            "/usr/bin/env",
            [manta, "pull", "acme/none", "--store", store], environment: environment, inheritingEnvironment: false, workingDirectory: directory.path
        )
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("acme/none"))
        let malformed = try await Program.runAwaitingExit(
            "/usr/bin/env",
            [manta, "pull", "not-a-repo", "--store", store], environment: environment, inheritingEnvironment: false, workingDirectory: directory.path
        )
        #expect(malformed.status != 0)
        #expect(malformed.standardError.contains("'not-a-repo' is not a repository id"))

        kill(server.pid, SIGTERM)
        #expect(await server.status.value == 0)
    }
}

/// A child process whose exit is awaited through `terminationHandler`, never by blocking a task.
struct ChildProcess: Sendable {
    let pid: Int32
    let status: Task<Int32, Never>
    private let output: FileHandle?

    static func start(_ arguments: [String], environment: [String: String], captureOutput: Bool = false) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        if !environment.isEmpty { process.environment = environment }
        let pipe = captureOutput ? Pipe() : nil
        process.standardOutput = pipe ?? FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let (exits, continuation) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { ended in
            continuation.yield(ended.terminationStatus)
            continuation.finish()
        }
        try process.run()
        let status = Task {
            for await status in exits { return status }
            return -1
        }
        return ChildProcess(pid: process.processIdentifier, status: status, output: pipe?.fileHandleForReading)
    }

    struct NoOutput: Error {}

    /// The first line the child writes to standard output, read on a thread of its own.
    func firstOutputLine() async throws -> String {
        guard let output else { throw NoOutput() }
        return try await blocking {
            var line = Data()
            while true {
                let byte = output.readData(ofLength: 1)
                if byte.isEmpty { throw NoOutput() }
                if byte == Data("\n".utf8) { return String(decoding: line, as: UTF8.self) }
                line.append(byte)
            }
        }
    }
}
