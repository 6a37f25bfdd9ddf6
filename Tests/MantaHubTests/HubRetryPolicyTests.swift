import Foundation
import MantaTestSupport
import NIOCore
import Testing

@testable import MantaHub

@Suite(.threadsOfItsOwn) struct HubRetryPolicyTests {
    @Test func backoffGrowsExponentiallyWithJitterUpToTheCap() {
        let policy = HubRetryPolicy(maximumAttempts: 10, initialDelay: .milliseconds(100), maximumDelay: .seconds(1))
        for attempt in 1...8 {
            let ceiling = min(1_000, 100 << (attempt - 1))
            for _ in 0..<50 {
                let delay = policy.delay(afterAttempt: attempt, retryAfter: nil)
                #expect(delay.map { $0 >= .zero && $0 <= .milliseconds(Int64(ceiling)) } == true, "attempt \(attempt): \(String(describing: delay))")
            }
        }
    }

    @Test func retryAfterIsAMinimumAndTooLongARetryAfterGivesUp() {
        let policy = HubRetryPolicy(initialDelay: .milliseconds(1), maximumDelay: .milliseconds(2), maximumRetryAfter: .seconds(10))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(3)) == .seconds(3))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(11)) == nil)
    }

    @Test func retryAfterParsesSecondsAndHTTPDates() {
        #expect(HubRetryPolicy.parseRetryAfter("7") == .seconds(7))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let inFiveSeconds = "Tue, 14 Nov 2023 22:13:25 GMT"
        #expect(HubRetryPolicy.parseRetryAfter(inFiveSeconds, now: now) == .seconds(5))
        #expect(HubRetryPolicy.parseRetryAfter("soon") == nil)
    }

    @Test func onlyTransientStatusesAreRetried() {
        #expect([408, 429, 500, 502, 503, 504].allSatisfy(HubRetryPolicy.isRetryable))
        #expect(![400, 401, 403, 404, 416].contains(where: HubRetryPolicy.isRetryable))
    }

    @Test func linkHeaderGivesTheNextPage() {
        let link = #"<https://hub.example/api/models/a/b/tree/main?cursor=xyz>; rel="next", <https://hub.example/x>; rel="prev""#
        #expect(HubClient.nextPageURL(link) == "https://hub.example/api/models/a/b/tree/main?cursor=xyz")
        #expect(HubClient.nextPageURL(#"<https://hub.example/x>; rel="prev""#) == nil)
    }

    @Test func unreachableHubFailsAfterTheBoundedAttemptsWithATransportError() async throws {
        let retry = HubRetryPolicy(maximumAttempts: 3, initialDelay: .milliseconds(1), maximumDelay: .milliseconds(5))
        // Port 1 on loopback has no listener: every connection is refused until the attempt's deadline.
        let configuration = try HubClientConfiguration(endpoint: "http://127.0.0.1:1", retry: retry, responseHeadTimeout: .milliseconds(300))
        let client = HubClient(configuration: configuration)
        await #expect {
            try await client.snapshot(of: HubModelReference("acme/tiny"))
        } throws: { error in
            guard case .transport(let repo, _, 3, _) = error as? HubError else { return false }
            return repo.description == "acme/tiny" && "\(error)".contains("HF_ENDPOINT")
        }
    }
}
