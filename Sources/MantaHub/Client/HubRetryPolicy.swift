import Foundation
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
        let exponent = min(attempt - 1, 20)
        let ceiling = min(maximumDelay.nanoseconds, initialDelay.nanoseconds << exponent)
        let backoff = TimeAmount.nanoseconds(Int64.random(in: 0...max(0, ceiling)))
        guard let retryAfter else { return backoff }
        guard retryAfter <= maximumRetryAfter else { return nil }
        return max(retryAfter, backoff)
    }

    /// `Retry-After` as delta-seconds or as an HTTP date.
    static func parseRetryAfter(_ value: String, now: Date = Date()) -> TimeAmount? {
        let trimmed = value.trimmingWhitespace()
        if let seconds = Int64(trimmed), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .milliseconds(max(0, Int64(date.timeIntervalSince(now) * 1000)))
    }
}
