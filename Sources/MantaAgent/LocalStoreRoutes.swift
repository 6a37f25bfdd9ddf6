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
/// - `POST /v1/local/gc` (`LocalGCRequest`): the agent collects garbage and evicts above its quota, as `manta gc`
///   does, in between pulls; answers the `Store.GCPlan` (with `dryRun`, what would go);
/// - `GET /v1/local/space`: the `Store.SpaceReport` (quota, used, evictable, what holds the rest).
/// The paths are spelled out again in `AgentSocketRequest`'s callers in `manta` (MantaCLI), which does not link
/// this module.
public enum LocalStoreRoutes {
    public static let gcPath = "/v1/local/gc"
    public static let spacePath = "/v1/local/space"

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
                return try json(plan)
            }
            router.get(RouterPath(spacePath)) { _, _ -> Response in
                try json(try await agent.spaceReport())
            }
        }
    }

    static func json(_ value: some Encodable) throws -> Response {
        Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(value))))
    }
}
