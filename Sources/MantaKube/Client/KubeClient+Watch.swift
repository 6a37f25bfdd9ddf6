import AsyncHTTPClient
import NIOCore
import NIOFoundationCompat

/// One change seen by a watch.
public enum WatchEvent<R: KubeResource>: Sendable {
    case added(R)
    case modified(R)
    case deleted(R)
    /// The server has sent everything up to this version; resume from here after a disconnect.
    case bookmark(resourceVersion: String)

    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object.metadata.resourceVersion
        case .bookmark(let version): version
        }
    }
}

extension KubeClient {
    /// Watches a collection from `resourceVersion`. The sequence ends when the server closes the stream
    /// (resume from the last version seen); an `ERROR` event throws (``KubeError/gone(_:)`` means: list again).
    public func watch<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, resourceVersion: String?, labelSelector: String? = nil,
        fieldSelector: String? = nil, timeoutSeconds: Int = 300
    ) async throws -> WatchEventSequence<R> {
        var query: [(String, String)] = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", "\(timeoutSeconds)")]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        let path = R.resourceType.path(namespace: namespace)
        let response = try await execute(.GET, path, query: query, body: nil, contentType: "application/json", timeout: Self.requestTimeout)
        guard response.status == .ok else {
            let body = (try? await response.body.collect(upTo: Self.maxBodyBytes)) ?? ByteBuffer()
            throw Self.error(status: response.status, body: body)
        }
        return WatchEventSequence(body: response.body)
    }
}

/// Watch events decoded line by line from the streamed body.
public struct WatchEventSequence<R: KubeResource>: AsyncSequence {
    public typealias Element = WatchEvent<R>
    let body: HTTPClientResponse.Body

    public func makeAsyncIterator() -> Iterator {
        Iterator(chunks: body.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        var chunks: HTTPClientResponse.Body.AsyncIterator
        var lines = LineBuffer()

        public mutating func next() async throws -> WatchEvent<R>? {
            while true {
                if let line = lines.nextLine() {
                    if line.readableBytes == 0 { continue }
                    return try WatchEventDecoder.decode(line, as: R.self)
                }
                let chunk: ByteBuffer?
                do {
                    chunk = try await chunks.next()
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    throw KubeError.transport("watch stream of \(R.resourceType) broke: \(error)")
                }
                guard let chunk else {
                    // A final line without a newline still counts.
                    guard let rest = lines.remainder() else { return nil }
                    return try WatchEventDecoder.decode(rest, as: R.self)
                }
                lines.append(chunk)
            }
        }
    }
}

/// Splits a byte stream into newline-terminated lines; a chunk may end in the middle of a line.
public struct LineBuffer: Sendable {
    private var buffer = ByteBuffer()

    public init() {}

    public mutating func append(_ chunk: ByteBuffer) {
        var chunk = chunk
        buffer.writeBuffer(&chunk)
    }

    /// The next complete line, without its newline.
    public mutating func nextLine() -> ByteBuffer? {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else { return nil }
        let length = newline - buffer.readerIndex
        let line = buffer.readSlice(length: length)
        buffer.moveReaderIndex(forwardBy: 1)
        if buffer.readableBytes == 0 { buffer.clear() }
        return line
    }

    /// Whatever is left after the last newline, when the stream has ended.
    public mutating func remainder() -> ByteBuffer? {
        guard buffer.readableBytes > 0 else { return nil }
        defer { buffer.clear() }
        return buffer.readSlice(length: buffer.readableBytes)
    }
}

enum WatchEventDecoder {
    private struct Envelope: Decodable { var type: String }
    private struct Typed<Object: Decodable>: Decodable { var object: Object }
    private struct BookmarkObject: Decodable { var metadata: ObjectMeta }

    static func decode<R: KubeResource>(_ line: ByteBuffer, as type: R.Type) throws -> WatchEvent<R> {
        let decoder = KubeJSON.decoder()
        do {
            let envelope = try decoder.decode(Envelope.self, from: line)
            switch envelope.type {
            case "ADDED": return .added(try decoder.decode(Typed<R>.self, from: line).object)
            case "MODIFIED": return .modified(try decoder.decode(Typed<R>.self, from: line).object)
            case "DELETED": return .deleted(try decoder.decode(Typed<R>.self, from: line).object)
            case "BOOKMARK":
                let object = try decoder.decode(Typed<BookmarkObject>.self, from: line).object
                return .bookmark(resourceVersion: object.metadata.resourceVersion ?? "")
            case "ERROR":
                let status = try decoder.decode(Typed<KubeStatus>.self, from: line).object
                if status.code == 410 { throw KubeError.gone(status.message ?? "watch expired") }
                throw KubeError.api(code: status.code ?? 500, reason: status.reason ?? "Unknown", message: status.message ?? "watch error")
            default:
                throw KubeError.decoding(what: "watch of \(R.resourceType)", detail: "unknown event type '\(envelope.type)'")
            }
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError.decoding(what: "watch event of \(R.resourceType)", detail: "\(error)")
        }
    }
}
