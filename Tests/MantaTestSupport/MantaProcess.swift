import Foundation

/// Runs the real `manta` binary that `swift build` put beside the test bundle.
public enum MantaProcess {
    public struct NotBuilt: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "\(path) does not exist: run `swift build` before `swift test` (the README's test command does)" }
    }

    public struct Result: Sendable {
        public var status: Int32
        public var standardOutput: String
        public var standardError: String
        public var succeeded: Bool { status == 0 }
    }

    /// `manta` in the build folder holding the running test bundle.
    public static func binaryPath() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["MANTA_BIN"] { return explicit }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("manta").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            if folder.pathExtension == "xctest" || folder.lastPathComponent == "Contents" || folder.lastPathComponent == "MacOS" {
                folder = folder.deletingLastPathComponent()
            } else {
                break
            }
        }
        throw NotBuilt(path: folder.appendingPathComponent("manta").path)
    }

    /// A configured but not yet started `manta` process (or of a copy of it at `executable`).
    public static func process(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable ?? binaryPath())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return process
    }

    /// Runs `manta` with `arguments` to completion and captures its output.
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws -> Result {
        let process = try process(arguments, environment: environment, executable: executable)
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let collected = ConcurrentRead(error.fileHandleForReading)
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: collected.wait(), as: UTF8.self)
        )
    }

    /// `run` on a thread of its own, for tests whose servers run on the cooperative pool that `run` would block.
    public static func runDetached(_ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        try await blocking { try run(arguments, environment: environment) }
    }

    /// Reads a pipe to its end on another thread, so two pipes never block each other.
    final class ConcurrentRead: @unchecked Sendable {
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(_ handle: FileHandle) {
            Thread { [self] in
                data = handle.readDataToEndOfFile()
                done.signal()
            }.start()
        }

        func wait() -> Data {
            done.wait()
            return data
        }
    }
}

extension Process {
    /// Waits up to `timeout` for the process to exit; whether it did. Blocks the thread (call it off the cooperative
    /// pool, or from a synchronous test).
    @discardableResult
    public func waitForExit(within timeout: Duration) -> Bool {
        holds(within: timeout) { !isRunning } || !isRunning
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(10)) {
        guard isRunning else { return }
        kill(processIdentifier, SIGTERM)
        if !waitForExit(within: grace) { kill(processIdentifier, SIGKILL) }
    }
}
