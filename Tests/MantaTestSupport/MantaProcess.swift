import Foundation

/// Runs the real `manta` binary that `swift build` put beside the test bundle.
public enum MantaProcess {
    public struct NotBuilt: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "\(path) does not exist: run `swift build` before `swift test` (the README's test command does)" }
    }

    public typealias Result = Program.Result

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

    /// Copies the `manta` binary to `destination`, to run it from another folder. Written through a descriptor
    /// closed on exec: a process another test starts meanwhile would otherwise keep the copy open for writing, and
    /// running the copy would fail with "Text file busy".
    public static func copyBinary(to destination: String) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try binaryPath()))
        let descriptor = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard descriptor >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination]) }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: destination]) }
    }

    /// A configured but not yet started `manta` process (or of a copy of it at `executable`).
    public static func process(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try executable ?? binaryPath())
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        return process
    }

    /// Runs `manta` with `arguments` to completion and captures its output, blocking the thread (`Program.run`).
    @discardableResult
    public static func run(_ arguments: [String], environment: [String: String] = [:], executable: String? = nil) throws -> Result {
        try Program.run(try executable ?? binaryPath(), arguments, environment: environment)
    }

    /// The same without holding a thread while it runs, for async tests (`Program.runAwaitingExit`).
    @discardableResult
    public static func runAwaitingExit(_ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        try await Program.runAwaitingExit(try binaryPath(), arguments, environment: environment)
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
