import Foundation
import MantaStore
import NIOCore

/// The JSON shapes of the Hugging Face API, shared by the client (decoding) and the server (encoding).
enum HubWire {
    /// `/api/models/{repo}` and `/api/models/{repo}/revision/{rev}`.
    struct ModelInfo: Codable, Sendable {
        var _id: String?
        var id: String
        var modelId: String?
        var author: String?
        var sha: String?
        var lastModified: String?
        var createdAt: String?
        var `private`: Bool?
        var gated: Bool?
        var disabled: Bool?
        var downloads: Int?
        var likes: Int?
        var tags: [String]?
        var siblings: [Sibling]?
    }

    struct Sibling: Codable, Sendable {
        var rfilename: String
        var size: Int64?
        var blobId: String?
        var lfs: SiblingLFS?
    }

    struct SiblingLFS: Codable, Sendable {
        var size: Int64
        var sha256: String
        var pointerSize: Int
    }

    /// One entry of `/api/models/{repo}/tree/{rev}[/{path}]` and of `paths-info`.
    struct TreeEntry: Codable, Sendable {
        var type: String
        var oid: String
        var size: Int64?
        var path: String
        var lfs: TreeLFS?
    }

    struct TreeLFS: Codable, Sendable {
        var oid: String
        var size: Int64
        var pointerSize: Int
    }
}

enum JSONDecoding {
    static func decode<Value: Decodable>(_ type: Value.Type, from buffer: ByteBuffer) throws -> Value {
        try JSONDecoder().decode(type, from: Data(buffer.readableBytesView))
    }
}
