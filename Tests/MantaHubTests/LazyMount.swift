import Foundation
import MantaHub
import MantaStore
import MantaTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real `manta mount` child process over an empty store with a hub source, beside an in-process hub serving
/// fixture folders: the setting of lazy fetching. Always unmounted by `withLazyMount`.
struct LazyMount: Sendable {
    /// The kernel read-ahead the mount is given: reads past the wanted bytes are bounded by it.
    static let readAheadKiB = 128

    let hub: PullTestHub
    let mountPoint: String
    let logPath: String
    let child: ChildProcess

    var manta: String { get throws { try MantaProcess.binaryPath() } }
    var environment: [String: String] { PullProcessTests.environment(endpoint: hub.address.endpoint, home: hub.directory.path) }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func modelFile(_ repo: String, _ path: String) -> String { "\(mountPoint)/models/\(repo)/\(path)" }

    /// Runs `manta <arguments> --store <store>` to completion.
    func run(_ arguments: [String]) async throws -> Program.Result {
        try await Program.runAwaitingExit(
            "/usr/bin/env",
            [try manta] + arguments + ["--store", hub.storeRoot], environment: environment, inheritingEnvironment: false,
            workingDirectory: hub.directory.path
        )
    }

    /// `manta add <repo>` and waits (at most 10 s) until the mount lists the model.
    func add(_ repo: String) async throws {
        let added = try await run(["add", repo, "--endpoint", hub.address.endpoint])
        guard added.status == 0 else { throw LazyMountFailure("manta add \(repo) failed: \(added.standardError)") }
        try await waitFor("\(repo) to appear in the mount", seconds: 10) { FileManager.default.fileExists(atPath: "\(mountPoint)/models/\(repo)") }
    }

    /// Waits until the store names `repo` by a manifest (the registration completed).
    func waitUntilComplete(_ repo: String) async throws {
        let store = try await hub.openStore()
        let reference = try RepoReference(parsing: repo)
        try await waitFor("\(repo) to become a complete model", seconds: 20) { (try? store.resolve(reference)) != nil }
    }

    func waitFor(_ what: String, seconds: Int, _ condition: @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw LazyMountFailure("timed out waiting for \(what); mount log:\n\(log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops the mount with SIGTERM and waits for it to exit.
    func stop() async {
        kill(child.pid, SIGTERM)
        _ = await child.status.value
    }
}

struct LazyMountFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a hub serving `models` (repo id → fixture folder) and a lazy mount of an empty store.
func withLazyMount(_ models: [String: String], _ body: @escaping @Sendable (LazyMount) async throws -> Void) async throws {
    try await withPullHub(models) { hub in
        let requested = hub.directory.appending("mnt")
        try FileManager.default.createDirectory(atPath: requested, withIntermediateDirectories: true)
        let mountPoint =
            realpath(requested, nil).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            } ?? requested
        let logPath = hub.directory.appending("mount.log")
        var environment = PullProcessTests.environment(endpoint: hub.address.endpoint, home: hub.directory.path)
        environment["MANTA_LOG_LEVEL"] = "info"
        let child = try ChildProcess.start(
            [
                "/bin/sh", "-c", "exec \"$0\" \"$@\" > \"\(logPath)\" 2>&1", try MantaProcess.binaryPath(), "mount", mountPoint, "--store",
                hub.storeRoot,
                "--read-ahead", "\(LazyMount.readAheadKiB)",
            ],
            environment: environment
        )
        let mount = LazyMount(hub: hub, mountPoint: mountPoint, logPath: logPath, child: child)
        do {
            try await mount.waitFor("the mount", seconds: 15) { isMounted(mountPoint) }
            try await body(mount)
        } catch {
            await mount.stop()
            throw error
        }
        await mount.stop()
    }
}

func isMounted(_ path: String) -> Bool {
    // Read to its end: /proc files report size 0, and String(contentsOfFile:) stops after the first 4 KiB.
    guard let data = FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() else { return false }
    let table = String(decoding: data, as: UTF8.self)
    return table.split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 4 && fields[4] == path
    }
}

/// A failed read's errno.
struct ReadFailure: Error, Equatable {
    let errno: Int32
}

/// Reads `count` bytes at `offset` of `path` with `pread` on a thread of its own; the errno on failure.
func readThroughMount(_ path: String, offset: UInt64, count: Int) async throws -> Result<[UInt8], ReadFailure> {
    try await blocking {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return .failure(ReadFailure(errno: errno)) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset) + off_t(done)) }
            if got < 0 { return .failure(ReadFailure(errno: errno)) }
            if got == 0 { break }
            done += got
        }
        return .success(Array(buffer[..<done]))
    }
}

/// The chunk layout of a local fixture file, as every node computes it.
func chunkSpans(of path: String) throws -> [ChunkSpan] {
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    guard case .plan(let plan) = ChunkPlanner.plan(path: path, fileSize: UInt64(bytes.count), prefix: bytes, parameters: ChunkingParameters()) else {
        throw LazyMountFailure("no chunk layout for \(path)")
    }
    return plan.spans
}
