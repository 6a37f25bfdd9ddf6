import Foundation

/// Runs a program to completion for a test and captures what it printed: the one process runner of the tests
/// (`MantaProcess` runs the built `manta` through it). Output goes to files, not pipes, so a child that leaves a
/// process behind holding them (an agent starting a mount holder) cannot keep the test waiting.
public enum Program {
    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        public var succeeded: Bool { status == 0 }
        /// Both streams, standard output first.
        public var output: String { standardOutput + standardError }
    }

    /// Blocks the calling thread until the program exits: for synchronous tests, which run on threads of their own
    /// (`.threadsOfItsOwn`). `environment` adds to this process's unless `inheritingEnvironment` is false.
    @discardableResult
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], inheritingEnvironment: Bool = true,
        workingDirectory: String? = nil
    ) throws -> Result {
        let run = try Run(executable, arguments, environment, inheritingEnvironment, workingDirectory)
        try run.process.run()
        run.process.waitUntilExit()
        return run.result(status: run.process.terminationStatus)
    }

    /// The same without holding a thread while the program runs: its exit is awaited through `terminationHandler`.
    @discardableResult
    public static func runAwaitingExit(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], inheritingEnvironment: Bool = true,
        workingDirectory: String? = nil
    ) async throws -> Result {
        let run = try Run(executable, arguments, environment, inheritingEnvironment, workingDirectory)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            run.process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try run.process.run()
            } catch {
                run.process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
        return run.result(status: status)
    }

    /// A configured program and the files its output goes to.
    private struct Run {
        let process = Process()
        let folder: TemporaryDirectory

        init(
            _ executable: String, _ arguments: [String], _ environment: [String: String], _ inheritingEnvironment: Bool, _ workingDirectory: String?
        ) throws {
            folder = try TemporaryDirectory("manta-program")
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = inheritingEnvironment ? ProcessInfo.processInfo.environment.merging(environment) { $1 } : environment
            if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
            for stream in ["stdout", "stderr"] { _ = FileManager.default.createFile(atPath: folder.appending(stream), contents: nil) }
            process.standardOutput = FileHandle(forWritingAtPath: folder.appending("stdout"))
            process.standardError = FileHandle(forWritingAtPath: folder.appending("stderr"))
        }

        func result(status: Int32) -> Result {
            Result(
                status: status,
                standardOutput: (try? String(contentsOfFile: folder.appending("stdout"), encoding: .utf8)) ?? "",
                standardError: (try? String(contentsOfFile: folder.appending("stderr"), encoding: .utf8)) ?? "")
        }
    }
}
