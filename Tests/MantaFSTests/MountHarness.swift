import Foundation
import MantaStore
import MantaTestSupport
import MantaTransfer
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A store with models imported, mounted by a real `manta mount` child process. Always unmounted in `cleanUp()`,
/// which the `withMount` helpers call even when the test fails.
final class MountHarness: @unchecked Sendable {
    struct Model {
        var directory: String
        var repo: String
        var revision = "main"

        var reference: RepoReference { get throws { try RepoReference(parsing: repo).at(revision: revision) } }
    }

    struct MountFailed: Error, CustomStringConvertible {
        let description: String
    }

    let directory: TemporaryDirectory
    let store: Store
    let mountPoint: String
    let logPath: String
    private(set) var process: Process?

    var storePath: String { store.root }

    init(_ models: [Model], compression: StoreConfiguration.Compression = .none, chunkSize: UInt64? = nil) throws {
        directory = try TemporaryDirectory("manta-fs-test")
        let requested = directory.appending("mnt")
        try FileManager.default.createDirectory(atPath: requested, withIntermediateDirectories: true)
        // /proc/self/mountinfo lists the canonical path.
        mountPoint =
            realpath(requested, nil).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            } ?? requested
        logPath = directory.appending("mount.log")
        store = try Store(root: directory.appending("store"), changes: StoreConfigurationChanges(compression: compression, chunkSize: chunkSize))
        for model in models { try importModel(model) }
    }

    @discardableResult
    func importModel(_ model: Model) throws -> ImportSummary {
        try store.importDirectory(model.directory, as: try model.reference)
    }

    /// Starts `manta mount` and waits (at most 15 s) until the kernel lists the mount.
    func mount(environment: [String: String] = [:], options: [String] = []) throws {
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = try MantaProcess.process(
            ["mount", mountPoint, "--store", storePath] + options, environment: environment.merging(["MANTA_LOG_LEVEL": "info"]) { old, _ in old }
        )
        process.standardOutput = FileHandle(forWritingAtPath: logPath)
        process.standardError = FileHandle(forWritingAtPath: logPath)
        try process.run()
        self.process = process
        try eventuallyBlocking("\(mountPoint) mounted: \(log)") {
            guard process.isRunning else {
                throw MountFailed(description: "manta mount exited with status \(process.terminationStatus) before mounting: \(log)")
            }
            return Self.isMounted(mountPoint)
        }
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits (at most 15 s) for the process to exit; returns its status.
    func terminate() throws -> Int32 {
        guard let process else { throw MountFailed(description: "not mounted") }
        kill(process.processIdentifier, SIGTERM)
        try eventuallyBlocking("manta mount exits after SIGTERM: \(log)") { !process.isRunning }
        return process.terminationStatus
    }

    func cleanUp() {
        process?.stop()
        if Self.isMounted(mountPoint) {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/fusermount3")
            unmount.arguments = ["-u", "-z", mountPoint]
            try? unmount.run()
            unmount.waitUntilExit()
        }
    }

    static func isMounted(_ path: String) -> Bool {
        // Read to its end: /proc files report size 0, and String(contentsOfFile:) stops after the first 4 KiB, which a
        // machine with a few dozen mounts exceeds.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/mountinfo")?.readDataToEndOfFile() else { return false }
        let table = String(decoding: data, as: UTF8.self)
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4] == path
        }
    }

    /// `models/<org>/<name>[@revision]` in the mount.
    func modelPath(_ model: Model) -> String {
        let name = model.revision == "main" ? model.repo : "\(model.repo)@\(model.revision)"
        return "\(mountPoint)/models/\(name)"
    }

    /// `hub/models--<org>--<name>/snapshots/<commit>` in the mount, found through the refs file.
    func snapshotPath(_ model: Model) throws -> String {
        let repoFolder = "\(mountPoint)/hub/models--\(model.repo.replacingOccurrences(of: "/", with: "--"))"
        let commit = try String(contentsOfFile: "\(repoFolder)/refs/\(model.revision)", encoding: .utf8)
        return "\(repoFolder)/snapshots/\(commit)"
    }
}

/// Runs `body` with a mounted harness and always unmounts.
func withMount(
    _ models: [MountHarness.Model], compression: StoreConfiguration.Compression = .none, chunkSize: UInt64? = nil,
    environment: [String: String] = [:], options: [String] = [], _ body: (MountHarness) throws -> Void
) throws {
    let harness = try MountHarness(models, compression: compression, chunkSize: chunkSize)
    defer { harness.cleanUp() }
    try harness.mount(environment: environment, options: options)
    try body(harness)
}

enum TestModels {
    static func real() throws -> MountHarness.Model {
        MountHarness.Model(directory: try Fixtures.realModel(), repo: Fixtures.realModelRepo)
    }

    static func shards(revision: String = "main") throws -> MountHarness.Model {
        MountHarness.Model(directory: try Fixtures.syntheticShards(), repo: "synthetic/shards", revision: revision)
    }

    /// Relative paths of every regular file below `directory`, sorted.
    static func files(below directory: String) throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var files: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(directory)/\(path)", isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(path)
            }
        }
        return files.sorted()
    }
}
