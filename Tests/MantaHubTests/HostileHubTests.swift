import AsyncHTTPClient
import Foundation
import MantaStore
import MantaTestSupport
import MantaWire
import NIOCore
import NIOHTTP1
import Testing

@testable import MantaHub

/// A hub that lies about sizes, pages and timing: the victim (a real `manta pull`, or the client library where only
/// a setting differs) stays alive, fails with an error naming the hub and the field, and records nothing.
@Suite(.threadsOfItsOwn) struct HostileHubTests {
    typealias Outcome = (result: Program.Result, store: Store, directory: TemporaryDirectory)

    /// `manta pull acme/evil` from `hub` into a fresh store; the store (and the folder that holds it while it is
    /// referenced), to check that nothing was recorded.
    static func pull(from hub: HostileHub, settings: [String: String] = [:]) async throws -> Outcome {
        let directory = try TemporaryDirectory("manta-hostile")
        let environment = PullProcessTests.environment(endpoint: hub.endpoint, home: directory.path).merging(settings) { $1 }
        let result = try await Program.runAwaitingExit(
            "/usr/bin/env",
            [try MantaProcess.binaryPath(), "pull", "acme/evil", "--store", directory.appending("store")], environment: environment,
            inheritingEnvironment: false,
            workingDirectory: directory.path
        )
        return (result, try Store(root: directory.appending("store")), directory)
    }

    /// The pull exited with an error of its own (status 1, not a signal's), said `phrases`, and kept no reference.
    static func expectRefused(_ outcome: Outcome, saying phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(outcome.result.status == 1, "exit status \(outcome.result.status): \(outcome.result.standardError)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(outcome.result.standardError.contains(phrase), "\(outcome.result.standardError)", sourceLocation: sourceLocation)
        }
        #expect(try outcome.store.resolve(try RepoReference(parsing: "acme/evil@main")) == nil, sourceLocation: sourceLocation)
    }

    /// A hub listing files of the given sizes (JSON number text) in one tree page.
    static func hub(listing sizes: [String], lfs: Bool = true) throws -> HostileHub {
        let entries = sizes.enumerated().map { index, size in
            let lfsPart = lfs ? #","lfs":{"oid":"\#(String(repeating: "a", count: 64))","size":\#(size),"pointerSize":134}"# : ""
            return #"{"type":"file","oid":"\#(String(repeating: "b", count: 40))","size":\#(size),"path":"f\#(index).safetensors"\#(lfsPart)}"#
        }
        return try HostileHub { path, _ in HostileHub.modelInfo(path) ?? .json("[" + entries.joined(separator: ",") + "]") }
    }

    @Test(arguments: [
        (["5000000000000000000", "5000000000000000000"], true, "MANTA_HUB_MAX_FILE_SIZE"),
        (Array(repeating: "1099511627776", count: 65), true, "MANTA_HUB_MAX_TOTAL_SIZE"),
        (["-1"], true, "negative"),
        (["1e30"], true, "not the JSON"),
        (["1073741824"], false, "MANTA_HUB_MAX_PLAIN_FILE_SIZE"),
    ])
    func sizesThatOverflowOrAreAbsurdFailThePullClearly(sizes: [String], lfs: Bool, phrase: String) async throws {
        let hub = try Self.hub(listing: sizes, lfs: lfs)
        defer { hub.close() }
        try Self.expectRefused(try await Self.pull(from: hub), saying: [phrase, "acme/evil", hub.endpoint])
    }

    /// A hub whose file tree links one more empty page, for ever.
    static func endlessPages() throws -> HostileHub {
        try HostileHub { path, endpoint in
            if let info = HostileHub.modelInfo(path) { return info }
            let cursor = Int(path.split(separator: "=").last ?? "") ?? 0
            return .json("[]", headers: [("Link", "<\(endpoint)/api/models/acme/evil/tree/x?cursor=\(cursor + 1)>; rel=\"next\"")])
        }
    }

    @Test func aNextLinkThatNeverEndsStopsAtThePageCap() async throws {
        let pages = HubAnswerLimits().maximumPages
        let hub = try Self.endlessPages()
        defer { hub.close() }
        try Self.expectRefused(try await Self.pull(from: hub), saying: ["MANTA_HUB_MAX_PAGES", hub.endpoint])
        #expect(hub.paths.count <= pages + 2, "\(hub.paths.count) requests")
    }

    @Test func theCapsAreSetFromTheEnvironment() async throws {
        let hub = try Self.endlessPages()
        defer { hub.close() }
        try Self.expectRefused(
            try await Self.pull(from: hub, settings: ["MANTA_HUB_MAX_PAGES": "5"]), saying: ["cap of 5 pages", "MANTA_HUB_MAX_PAGES"])
        #expect(hub.paths.count <= 5 + 2, "\(hub.paths.count) requests")
        try Self.expectRefused(try await Self.pull(from: hub, settings: ["MANTA_HUB_MAX_PAGES": "lots"]), saying: ["MANTA_HUB_MAX_PAGES='lots'"])
    }

    @Test func aNextLinkBackToAPageReadOrOffTheHubIsRefused() async throws {
        for (target, phrase) in [(nil, "already read"), ("http://198.51.100.7/steal", "off the hub")] {
            let hub = try HostileHub { path, endpoint in
                if let info = HostileHub.modelInfo(path) { return info }
                return .json("[]", headers: [("Link", "<\(target ?? endpoint + path)>; rel=\"next\"")])
            }
            defer { hub.close() }
            let client = HubClient(configuration: try HubClientConfiguration(endpoint: hub.endpoint, retry: HubRetryPolicy(maximumAttempts: 1)))
            await #expect(throws: HubError.self) { try await client.snapshot(of: HubModelReference("acme/evil")) }
            do {
                _ = try await client.snapshot(of: HubModelReference("acme/evil"))
            } catch {
                #expect("\(error)".contains(phrase), "\(error)")
            }
        }
    }

    @Test func anAnswerOverTheSizeCapIsRefusedWithoutRetries() async throws {
        let hub = try HostileHub { path, _ in HostileHub.modelInfo(path) ?? .json("[" + String(repeating: " ", count: 2 << 20) + "]") }
        defer { hub.close() }
        var limits = HubAnswerLimits()
        limits.maximumAnswerBytes = 1 << 20
        let client = HubClient(configuration: try HubClientConfiguration(endpoint: hub.endpoint, limits: limits))
        let error = await #expect(throws: HubError.self) { try await client.snapshot(of: HubModelReference("acme/evil")) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("MANTA_HUB_MAX_ANSWER_BYTES"))
        #expect(hub.paths.filter { $0.contains("/tree/") }.count == 1, "a cap is not a transient failure")
    }

    @Test func aHubThatTricklesAnAnswerTimesOut() async throws {
        let hub = try HostileHub { _, _ in HostileHub.Answer(contentLength: "100000", trickle: true) }
        defer { hub.close() }
        let client = HubClient(
            configuration: try HubClientConfiguration(
                endpoint: hub.endpoint, retry: HubRetryPolicy(maximumAttempts: 2, initialDelay: .milliseconds(10)), metadataTimeout: .seconds(1))
        )
        let started = ContinuousClock.now
        let error = await #expect(throws: HubError.self) { try await client.resolveCommit(HubModelReference("acme/evil")) }
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect("\(error.map { "\($0)" } ?? "")".contains("metadataTimeout"))
    }

    @Test func anAbsurdRetryAfterFailsThePullAtOnce() async throws {
        let hub = try HostileHub { _, _ in HostileHub.Answer(status: "503 Service Unavailable", headers: [("Retry-After", "99999999999999999999")]) }
        defer { hub.close() }
        let started = ContinuousClock.now
        try Self.expectRefused(try await Self.pull(from: hub), saying: ["HTTP 503", hub.endpoint])
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(hub.paths.count == 1)
    }

    @Test func aTreeListingIsCheckedPageByPageWithoutTheNetwork() throws {
        let limits = HubAnswerLimits(maximumPages: 2, maximumEntries: 3)
        let oid = String(repeating: "b", count: 40)
        let sha = String(repeating: "a", count: 64)
        func refusal(_ pages: [String], hasNext: Bool = false) -> String? {
            var listing = HubTreeListing(limits: limits)
            do {
                for (index, page) in pages.enumerated() { try listing.add(page: Array(page.utf8), hasNext: hasNext || index < pages.count - 1) }
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal(["[\(HostileHub.entry("a", size: "1")),\(HostileHub.entry("b/c", size: "2"))]"]) == nil)
        #expect(refusal(["[\(HostileHub.entry("a", size: "1"))]", "[\(HostileHub.entry("a", size: "1"))]"])?.contains("listed twice") == true)
        #expect(refusal(["[]", "[]"], hasNext: true)?.contains("MANTA_HUB_MAX_PAGES") == true)
        #expect(
            refusal([
                #"[{"type":"directory","oid":"\#(oid)","path":"d"},{"type":"directory","oid":"\#(oid)","path":"e"}]"#,
                "[" + [HostileHub.entry("x", size: "1"), HostileHub.entry("y", size: "1")].joined(separator: ",") + "]",
            ])?.contains("MANTA_HUB_MAX_ENTRIES") == true)
        #expect(refusal(["[\(HostileHub.entry("../etc/passwd", size: "1"))]"])?.contains("'path'") == true)
        #expect(refusal(["[\(HostileHub.entry("a", size: "1", oid: "xyz"))]"])?.contains("'oid'") == true)
        let lfsSizes = #"[{"type":"file","oid":"\#(oid)","size":5,"path":"w.bin","lfs":{"oid":"\#(sha)","size":6,"pointerSize":130}}]"#
        #expect(refusal([lfsSizes])?.contains("'lfs.size'") == true)
    }

    @Test func retryAfterIsBoundedWhateverItSays() {
        let longest = TimeAmount.seconds(HubRetryPolicy.longestRetryAfter)
        #expect(HubRetryPolicy.parseRetryAfter("99999999999999999999") == longest)
        #expect(HubRetryPolicy.parseRetryAfter("9223372036854775807") == longest)
        #expect(HubRetryPolicy.parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT") == longest)
        #expect(HubRetryPolicy.parseRetryAfter("-5") == nil)
        #expect(HubRetryPolicy.parseRetryAfter("7") == .seconds(7))
    }

    @Test func contentRangeAndLengthThatOverflowOrContradictAreRefused() throws {
        #expect(ContentRange("bytes 0-4/5").map { [$0.first, $0.last, $0.total] } == [0, 4, 5])
        #expect(ContentRange("bytes 0-4/*")?.total == nil)
        for bad in [
            "bytes 0-9223372036854775807/9223372036854775807", "bytes -1-5/10", "bytes 5-1/10", "bytes 0-99999999999999999999/5", "bytes 0-4/+5",
            "bytes 0-9/5",
        ] {
            #expect(ContentRange(bad) == nil, "\(bad)")
        }
        let location = try HubFileLocation(repo: HubRepoID("acme/evil"), revision: "main", path: "f")
        for length in ["9223372036854775807", "-3", "12abc"] {
            let response = HTTPClientResponse(status: .partialContent, headers: ["Content-Length": length])
            #expect(throws: HubError.self) { try HubClient.endOffset(response, requestedOffset: 10, location: location, url: "u") }
        }
    }
}
