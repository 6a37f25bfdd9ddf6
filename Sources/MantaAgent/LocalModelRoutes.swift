import Foundation
import Hummingbird
import MantaHub
import NIOCore

/// What `manta pull` or `manta add` asks a running agent for, on its local socket.
public struct LocalModelRequest: Sendable, Codable {
    public var model: String
    public var file: String?
    /// False (`manta pull --no-pin`): the model is left to the quota's eviction. Absent: pinned.
    public var pin: Bool?

    public init(model: String, file: String?, pin: Bool? = nil) {
        self.model = model
        self.file = file
        self.pin = pin
    }
}

/// One line of the agent's answer to a pull: progress, then either the outcome or the error.
public struct LocalPullEvent: Sendable, Codable {
    public var totalBytes: UInt64?
    public var completedBytes: UInt64?
    public var outcome: Outcome?
    public var error: String?

    public struct Outcome: Sendable, Codable {
        public var reference: String
        public var commit: String
        public var digest: String
        public var upToDate: Bool
        public var files: Int
        public var logicalBytes: UInt64
        public var bytesDownloaded: UInt64
        public var chunksWritten: Int
        public var warnings: [String]
    }

    public init(totalBytes: UInt64? = nil, completedBytes: UInt64? = nil, outcome: Outcome? = nil, error: String? = nil) {
        self.totalBytes = totalBytes
        self.completedBytes = completedBytes
        self.outcome = outcome
        self.error = error
    }
}

/// What the agent did for `manta add`.
public struct LocalAddOutcome: Sendable, Codable {
    public var reference: String
    public var commit: String
    /// The manifest, when the model is complete; nil while some file is still fetched on first read.
    public var manifest: String?
    public var files: Int
    public var logicalBytes: UInt64
    public var bytesDownloaded: UInt64
    public var warnings: [String]
}

/// The model routes of the agent's local socket:
/// - `POST /v1/local/pull`: the agent pulls the model (peers first) into the store it owns, answering with
///   newline-delimited JSON `LocalPullEvent`s as it goes, so the CLI can draw its progress bar;
/// - `POST /v1/local/add`: the agent registers the model from hub metadata (a `LocalAddOutcome`).
public enum LocalModelRoutes {
    public static let pullPath = "/v1/local/pull"
    public static let addPath = "/v1/local/add"
    /// At most this many progress lines a second.
    static let progressInterval: Duration = .milliseconds(100)

    public static func routes(_ agent: AgentService) -> LocalAPIServer.Routes {
        { router in
            router.post(RouterPath(addPath)) { request, _ -> Response in
                let (add, reference) = try await decode(request)
                let summary: LazyRegistrationSummary
                do {
                    summary = try await agent.add(reference, filename: add.file)
                } catch {
                    // The CLI shows this message as the command's error.
                    throw HTTPError(.unprocessableContent, message: "\(error)")
                }
                let outcome = LocalAddOutcome(
                    reference: "\(summary.reference)", commit: summary.commit, manifest: summary.manifest.map { "\($0)" }, files: summary.files,
                    logicalBytes: summary.logicalSize, bytesDownloaded: summary.bytesDownloaded, warnings: summary.warnings
                )
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(outcome))))
            }
            router.post(RouterPath(pullPath)) { request, _ -> Response in
                let (pull, reference) = try await decode(request)
                return Response(
                    status: .ok, headers: [.contentType: "application/x-ndjson"],
                    body: ResponseBody { writer in
                        let (events, continuation) = AsyncStream.makeStream(of: LocalPullEvent.self, bufferingPolicy: .bufferingNewest(1))
                        let pulling = Task {
                            defer { continuation.finish() }
                            do {
                                let summary = try await agent.pull(reference, filename: pull.file, pin: pull.pin ?? true) { progress in
                                    continuation.yield(LocalPullEvent(totalBytes: progress.totalBytes, completedBytes: progress.completedBytes))
                                }
                                return LocalPullEvent(outcome: .init(summary))
                            } catch {
                                return LocalPullEvent(error: "\(error)")
                            }
                        }
                        var lastWritten = ContinuousClock.now - progressInterval
                        for await event in events where ContinuousClock.now - lastWritten >= progressInterval {
                            lastWritten = .now
                            try await writer.write(line(event))
                        }
                        try await writer.write(line(await pulling.value))
                        try await writer.finish(nil)
                    })
            }
        }
    }

    /// The request in the body, and the model it names.
    static func decode(_ request: Request) async throws -> (LocalModelRequest, HubModelReference) {
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let model = try? JSONDecoder().decode(LocalModelRequest.self, from: Data(body.readableBytesView)) else {
            throw HTTPError(.badRequest, message: "the body must be JSON {\"model\": \"org/name[@rev]\", \"file\": optional path}")
        }
        do {
            return (model, try HubModelReference(model.model))
        } catch {
            throw HTTPError(.badRequest, message: "\(error)")
        }
    }

    static func line(_ event: LocalPullEvent) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(event) + [UInt8(ascii: "\n")])
    }
}

extension LocalPullEvent.Outcome {
    init(_ summary: PullSummary) {
        self.init(
            reference: "\(summary.reference)", commit: summary.manifest.source.commit, digest: "\(summary.digest)", upToDate: summary.upToDate,
            files: summary.manifest.files.count, logicalBytes: summary.manifest.logicalSize, bytesDownloaded: summary.bytesDownloaded,
            chunksWritten: summary.chunksWritten, warnings: summary.warnings
        )
    }
}
