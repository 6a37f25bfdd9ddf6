import Foundation

/// Runs blocking work (store I/O, reads through a mount, a child process) on a thread of its own, never on
/// the cooperative pool that the test's in-process servers need.
public func blocking<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
    }
}
