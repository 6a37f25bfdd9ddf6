import Foundation
import Hummingbird
import MantaStore
import NIOCore

/// What `manta gc` asks a running agent for, on its local socket.
public struct LocalGCRequest: Sendable, Codable {
    public var dryRun: Bool

    public init(dryRun: Bool) { self.dryRun = dryRun }
}

/// The store routes of the agent's local socket, so an operator never stops the agent (and every pod's mount) to
/// manage the store:
/// `POST /v1/local/gc` (`LocalGCRequest`): the agent collects garbage and evicts above its quota, as `manta gc`
/// does, in between pulls, and answers the `Store.GCPlan` (with `dryRun`, what would go).
/// `manta gc` (MantaCLI), which does not link this module, spells the gc path and request again; QuotaEvictionTests
/// runs the two together.
public enum LocalStoreRoutes {
    public static let gcPath = "/v1/local/gc"

    public static func routes(_ agent: AgentService) -> LocalAPIServer.Routes {
        { router in
            router.post(RouterPath(gcPath)) { request, _ -> Response in
                let body = try await request.body.collect(upTo: 4 << 10)
                guard let gc = try? JSONDecoder().decode(LocalGCRequest.self, from: Data(body.readableBytesView)) else {
                    throw HTTPError(.badRequest, message: "the body must be JSON {\"dryRun\": true|false}")
                }
                let plan: Store.GCPlan
                do {
                    plan = try await agent.collectGarbage(dryRun: gc.dryRun)
                } catch {
                    throw HTTPError(.unprocessableContent, message: "\(error)")
                }
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(plan))))
            }
        }
    }
}
