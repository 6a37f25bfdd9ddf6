import Foundation
import MantaStore
import MantaTransfer
import NIOCore

/// Bounded retries for 429, 5xx and broken connections: exponential backoff with full jitter,
/// and a server's `Retry-After` taken as the minimum wait (capped by `maximumRetryAfter`).
public struct HubRetryPolicy: Sendable, Hashable {
    /// Attempts in total, the first included.
    public var maximumAttempts: Int
    public var initialDelay: TimeAmount
    public var maximumDelay: TimeAmount
    /// A `Retry-After` longer than this is not waited for: the request fails instead.
    public var maximumRetryAfter: TimeAmount

    public init(
        maximumAttempts: Int = 6,
        initialDelay: TimeAmount = .milliseconds(500),
        maximumDelay: TimeAmount = .seconds(30),
        maximumRetryAfter: TimeAmount = .seconds(120)
    ) {
        self.maximumAttempts = max(1, maximumAttempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.maximumRetryAfter = maximumRetryAfter
    }

    static func isRetryable(status: Int) -> Bool { status == 429 || status == 408 || (500...599).contains(status) }

    /// The wait before attempt `attempt + 1` (attempts count from 1), or nil when the server asks for longer than we accept.
    func delay(afterAttempt attempt: Int, retryAfter: TimeAmount?) -> TimeAmount? {
        // Full jitter: anywhere up to the exponential ceiling, so clients that failed together do not retry together.
        let ceiling = Backoff(initial: .nanoseconds(initialDelay.nanoseconds), maximum: .nanoseconds(maximumDelay.nanoseconds))
            .delay(afterAttempt: attempt).wholeNanoseconds
        let backoff = TimeAmount.nanoseconds(Int64.random(in: 0...max(0, ceiling)))
        guard let retryAfter else { return backoff }
        guard retryAfter <= maximumRetryAfter else { return nil }
        return max(retryAfter, backoff)
    }

    /// The longest wait `parseRetryAfter` reports: any longer one is as good as refused (see `maximumRetryAfter`), and
    /// a bigger number of seconds would overflow `TimeAmount`'s nanoseconds.
    static let longestRetryAfter: Int64 = 7 * 24 * 3600

    /// `Retry-After` as delta-seconds or as an HTTP date, at most `longestRetryAfter`.
    static func parseRetryAfter(_ value: String, now: Date = Date()) -> TimeAmount? {
        let trimmed = value.trimmingWhitespace
        guard trimmed.utf8.count <= 64 else { return nil }
        if !trimmed.isEmpty, trimmed.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            // All digits but too long for Int64: as far off as any other absurd wait.
            return .seconds(min(Int64(trimmed) ?? longestRetryAfter, longestRetryAfter))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        let seconds = date.timeIntervalSince(now)
        guard seconds.isFinite else { return nil }
        return .milliseconds(Int64(min(max(0, seconds), Double(longestRetryAfter)) * 1000))
    }
}
