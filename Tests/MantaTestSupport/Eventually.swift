import Foundation
import MantaStore
import Testing

/// A test's own failure, with what it expected.
public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes; then records the failure at the caller's `sourceLocation`
/// and throws, so the test stops there.
/// The default is generous because a step that takes 0.2 s alone has taken over 10 s with every other suite
/// running beside it on two cores; a passing wait returns as soon as its condition holds.
public func eventually(
    _ message: @autoclosure () -> String, timeout: Duration = .seconds(60), poll: Duration = .milliseconds(20),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: poll)
    }
    Issue.record("timed out after \(timeout): \(message())", sourceLocation: sourceLocation)
    throw TestFailure("timed out: \(message())")
}

/// The same for synchronous tests, which block their thread anyway (the mount's tests, on FUSE calls): a poll there
/// sleeps the thread. Named apart so that async code, which must not block a thread of the shared pool, never picks
/// it for a synchronous condition.
public func eventuallyBlocking(
    _ message: @autoclosure () -> String, timeout: Duration = .seconds(60), poll: Duration = .milliseconds(20),
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool
) throws {
    if try holds(within: timeout, poll: poll, condition) { return }
    Issue.record("timed out after \(timeout): \(message())", sourceLocation: sourceLocation)
    throw TestFailure("timed out: \(message())")
}

/// Whether `condition` holds within `timeout`, polled every `poll` on a blocked thread: for a wait that may end
/// either way (a process asked to exit), where `eventually` is one that must succeed.
public func holds(within timeout: Duration, poll: Duration = .milliseconds(20), _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: poll.inSeconds)
    }
    return false
}
