import Foundation
import MantaKube

extension Torrent {
    static func sample(
        _ name: String, repoID: String = "Qwen/Qwen3-0.6B", filename: String? = nil, replicas: Int32? = nil,
        reclaimPolicy: ReclaimPolicy? = nil, preheat: Bool? = nil, ttl: Int64? = nil, nodeSelector: [String: String]? = nil
    ) -> Torrent {
        Torrent(
            name: name,
            spec: Spec(
                hub: Hub(repoID: repoID, filename: filename), preheat: preheat, replicas: replicas, reclaimPolicy: reclaimPolicy,
                ttlSecondsAfterReady: ttl, nodeSelector: nodeSelector))
    }
}

/// The hub as the controller sees it through the RevisionResolver seam: a fixed table of repos.
struct TableResolver: RevisionResolver {
    static let gib: Int64 = 1 << 30
    var repos: [String: ResolvedRevision] = [
        "Qwen/Qwen3-0.6B": ResolvedRevision(
            commit: "c1e5ad7a0b5c5e7c8e3d4f1a2b3c4d5e6f7a8b9c",
            files: [
                .init(path: "config.json", size: 726, sha256: nil),
                .init(path: "model.safetensors", size: gib + gib / 2, sha256: String(repeating: "ab", count: 32)),
            ]),
        "Qwen/Qwen2-0.5B-Instruct-GGUF": ResolvedRevision(
            commit: "198f08841147e5196a6a69bd0053690fb1fd3857",
            files: [
                .init(path: "qwen2-0_5b-instruct-q5_k_m.gguf", size: 400 << 20, sha256: String(repeating: "cd", count: 32)),
                .init(path: "qwen2-0_5b-instruct-q8_0.gguf", size: 530 << 20, sha256: String(repeating: "ef", count: 32)),
            ]),
    ]

    func resolve(hub: String, repoID: String, revision: String, filename: String?) async throws -> ResolvedRevision {
        guard var resolved = repos[repoID] else { throw RevisionResolverError.notFound("repository \(repoID)") }
        if let filename {
            resolved.files = resolved.files.filter { $0.path == filename }
            guard !resolved.files.isEmpty else { throw RevisionResolverError.notFound("\(filename) in \(repoID)@\(revision)") }
        }
        return resolved
    }
}

/// A hub that is down for its first `failures` calls (with an error that is not a RevisionResolverError,
/// as a transport failure would be), then answers like ``TableResolver``.
struct FlakyResolver: RevisionResolver {
    struct Outage: Error {}
    let failures: Int
    let calls = Locked(0)

    func resolve(hub: String, repoID: String, revision: String, filename: String?) async throws -> ResolvedRevision {
        let call = calls.mutate { count in
            count += 1
            return count
        }
        if call <= failures { throw Outage() }
        return try await TableResolver().resolve(hub: hub, repoID: repoID, revision: revision, filename: filename)
    }
}

extension KubeClient {
    /// Creates a Node as the kubelet does: the object, then its addresses through the status subresource, since a
    /// create drops the status of a kind that has one.
    func createNode(_ node: Node) async throws {
        let created = try await create(node)
        guard let status = node.status else { return }
        _ = try await modify(Node.self, name: created.name, status: true) { stored in
            stored.status = status
            return true
        }
    }
}
