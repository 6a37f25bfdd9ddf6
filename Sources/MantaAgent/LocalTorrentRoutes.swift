import Foundation
import Hummingbird
import MantaKube
import NIOCore

/// `GET /v1/local/torrents/<name>`: whether the Torrent's model is readable on this node, as a
/// `LocalTorrentStatus` in JSON (always 200 when the answer is known, whatever the state).
public enum LocalTorrentRoutes {
    public static let path = "/v1/local/torrents"

    /// The routes, answering from `cluster`; without one (an agent outside a cluster) they answer 503.
    public static func routes(_ cluster: ClusterAgent?) -> LocalAPIServer.Routes {
        { router in
            router.get("\(path)/:name") { _, context -> Response in
                guard let name = context.parameters.get("name"), !name.isEmpty else { throw HTTPError(.notFound, message: "no Torrent name") }
                guard let cluster else {
                    throw HTTPError(
                        .serviceUnavailable, message: "this agent does not run in a cluster: start it with --node-name to follow Torrents")
                }
                let status = try await cluster.status(ofTorrent: name)
                let body = try JSONEncoder().encode(status)
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
        }
    }
}
