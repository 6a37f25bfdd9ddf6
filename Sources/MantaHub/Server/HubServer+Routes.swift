import Foundation
import HTTPTypes
import Hummingbird
import MantaStore
import MantaWire
import NIOCore

extension HubServer {
    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        // Before the gate: scrapers carry no hub token, and scrapes are not counted as hub traffic.
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: self.statistics.prometheusText()))
            )
        }
        router.add(middleware: HubGateMiddleware(token: configuration.token, faults: faults, statistics: statistics))
        router.get("/api/models/:namespace/:name") { _, context in
            try await self.modelInfo(context, revision: HubModelReference.defaultRevision)
        }
        router.get("/api/models/:namespace/:name/revision/:revision") { _, context in
            try await self.modelInfo(context, revision: try Self.decodedParameter("revision", context))
        }
        router.get("/api/models/:namespace/:name/tree/:revision") { request, context in
            try await self.tree(request, context, folder: nil)
        }
        router.get("/api/models/:namespace/:name/tree/:revision/**") { request, context in
            try await self.tree(request, context, folder: try Self.catchAllPath(context))
        }
        router.post("/api/models/:namespace/:name/paths-info/:revision") { request, context in
            try await self.pathsInfo(request, context)
        }
        router.get("/:namespace/:name/resolve/:revision/**") { request, context in
            try await self.resolve(request, context, sendBody: true)
        }
        router.head("/:namespace/:name/resolve/:revision/**") { request, context in
            try await self.resolve(request, context, sendBody: false)
        }
        return router
    }

    // MARK: Metadata

    private func modelInfo(_ context: BasicRequestContext, revision name: String) async throws -> Response {
        let repo = try Self.repo(context)
        let revision = try await lookUp(repo, name)
        let modified = Self.isoDate(nanoseconds: revision.lastModifiedNanoseconds)
        let info = HubWire.ModelInfo(
            _id: revision.commit, id: "\(repo)", modelId: "\(repo)", author: repo.namespace, sha: revision.commit,
            lastModified: modified, createdAt: modified, private: configuration.token != nil, gated: false, disabled: false,
            downloads: 0, likes: 0, tags: [],
            siblings: revision.files.map { file in
                let hubFile = file.hubFile
                return HubWire.Sibling(
                    rfilename: file.path, size: file.size, blobId: hubFile.blobID,
                    lfs: hubFile.lfs.map { HubWire.SiblingLFS(size: $0.size, sha256: $0.sha256.hex, pointerSize: $0.pointerSize) }
                )
            }
        )
        return try Self.json(info)
    }

    private func tree(_ request: Request, _ context: BasicRequestContext, folder: String?) async throws -> Response {
        let repo = try Self.repo(context)
        let revisionName = try Self.decodedParameter("revision", context)
        let revision = try await lookUp(repo, revisionName)
        let recursive = ["true", "1"].contains(request.uri.queryParameters.get("recursive")?.lowercased() ?? "")
        let prefix = folder.map { $0 + "/" } ?? ""
        if let folder, !revision.files.contains(where: { $0.path.hasPrefix(folder + "/") }) {
            throw HubHTTPError.entryNotFound(repo: repo, revision: revisionName, path: folder)
        }
        var entries: [HubWire.TreeEntry] = []
        var folders: Set<String> = []
        for file in revision.files where file.path.hasPrefix(prefix) {
            let relative = file.path.dropFirst(prefix.count)
            let components = relative.split(separator: "/")
            // Every folder between the listed one and the file is an entry of its own.
            for depth in 1..<components.count where recursive || depth == 1 {
                folders.insert(prefix + components[0..<depth].joined(separator: "/"))
            }
            guard recursive || components.count == 1 else { continue }
            entries.append(Self.treeEntry(file))
        }
        entries += folders.map { Self.folderEntry($0, in: revision) }
        return try Self.json(entries.sorted { $0.path < $1.path })
    }

    /// `POST paths-info/{rev}` with a form or JSON body of `paths`: the entries for exactly those paths.
    private func pathsInfo(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let repo = try Self.repo(context)
        let revision = try await lookUp(repo, try Self.decodedParameter("revision", context))
        let body = try await request.body.collect(upTo: 1 << 20)
        let requested = Set(Self.requestedPaths(body: body, contentType: request.headers[.contentType]))
        var entries: [HubWire.TreeEntry] = revision.files.filter { requested.contains($0.path) }.map(Self.treeEntry)
        for path in requested where revision.files.contains(where: { $0.path.hasPrefix(path + "/") }) {
            entries.append(Self.folderEntry(path, in: revision))
        }
        return try Self.json(entries.sorted { $0.path < $1.path })
    }

    static func treeEntry(_ file: ServedFile) -> HubWire.TreeEntry {
        let hubFile = file.hubFile
        return HubWire.TreeEntry(
            type: "file", oid: hubFile.blobID, size: file.size, path: file.path,
            lfs: hubFile.lfs.map { HubWire.TreeLFS(oid: $0.sha256.hex, size: $0.size, pointerSize: $0.pointerSize) }
        )
    }

    private static func requestedPaths(body: ByteBuffer, contentType: String?) -> [String] {
        if contentType?.hasPrefix("application/json") == true {
            struct PathsBody: Decodable { var paths: [String] }
            return (try? JSONDecoding.decode(PathsBody.self, from: body).paths) ?? []
        }
        return String(buffer: body).split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == "paths" else { return nil }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
    }

    /// A folder's entry; its id (git's tree id on the real hub) is derived from the commit and the folder's path.
    private static func folderEntry(_ path: String, in revision: ServedRevision) -> HubWire.TreeEntry {
        let id = String(SHA256Hasher.hash(Array("\(revision.commit)\0\(path)".utf8)).hex.prefix(40))
        return HubWire.TreeEntry(type: "directory", oid: id, size: 0, path: path, lfs: nil)
    }

    // MARK: Files

    private func resolve(_ request: Request, _ context: BasicRequestContext, sendBody: Bool) async throws -> Response {
        let repo = try Self.repo(context)
        let revisionName = try Self.decodedParameter("revision", context)
        let path = try Self.catchAllPath(context)
        let revision = try await lookUp(repo, revisionName)
        guard let file = revision.file(at: path) else {
            throw HubHTTPError.entryNotFound(repo: repo, revision: revisionName, path: path)
        }
        var headers: HTTPFields = [
            .contentType: "application/octet-stream",
            .acceptRanges: "bytes",
            .eTag: "\"\(file.etag)\"",
            .repoCommit: revision.commit,
            .linkedETag: "\"\(file.etag)\"",
            .linkedSize: "\(file.size)",
        ]
        let range: ClosedRange<Int64>?
        switch ByteRange.parse(request.headers[.range], length: UInt64(file.size)) {
        case .whole:
            range = nil
        case .partial(let requested):
            range = Int64(requested.lowerBound)...Int64(requested.upperBound - 1)
        case .unsatisfiable:
            headers[.contentRange] = "bytes */\(file.size)"
            headers[.contentLength] = "0"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        }
        let served = range ?? (file.size > 0 ? 0...(file.size - 1) : nil)
        if let range { headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(file.size)" }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        guard sendBody, let served else {
            headers[.contentLength] = "\(served.map { $0.count } ?? 0)"
            return Response(status: status, headers: headers)
        }
        let fault = faults.take(path: request.uri.path, scope: .resolve, forBody: true)
        return Response(status: status, headers: headers, body: fileBody(file, repo: repo, range: served, fault: fault))
    }

    func lookUp(_ repo: HubRepoID, _ revision: String) async throws -> ServedRevision {
        do {
            return try await catalog.revision(repo, revision)
        } catch RepositoryCatalog.Failure.repoNotFound(let repo) {
            throw HubHTTPError.repoNotFound(repo: repo)
        } catch RepositoryCatalog.Failure.revisionNotFound(let repo, let revision) {
            throw HubHTTPError.revisionNotFound(repo: repo, revision: revision)
        }
    }

    // MARK: Request parts

    static func repo(_ context: BasicRequestContext) throws -> HubRepoID {
        let namespace = try decodedParameter("namespace", context)
        let name = try decodedParameter("name", context)
        do {
            return try HubRepoID(namespace: namespace, name: name)
        } catch {
            throw HubHTTPError.badRequest("\(error)")
        }
    }

    static func decodedParameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name), let value = raw.removingPercentEncoding, !value.isEmpty else {
            throw HubHTTPError.badRequest("missing or malformed '\(name)' in the URL")
        }
        return value
    }

    static func catchAllPath(_ context: BasicRequestContext) throws -> String {
        let parts = context.parameters.getCatchAll().map { String($0).removingPercentEncoding }
        guard !parts.contains(nil) else { throw HubHTTPError.badRequest("malformed percent-encoding in the file path") }
        let path = parts.compactMap { $0 }.joined(separator: "/")
        guard HubPath.isValid(path) else { throw HubHTTPError.badRequest("'\(path)' is not a file path inside a repository") }
        return path
    }

    static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func isoDate(nanoseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds / 1_000_000) / 1000))
    }
}

extension HTTPField.Name {
    static let repoCommit = HTTPField.Name("X-Repo-Commit")!
    static let linkedETag = HTTPField.Name("X-Linked-Etag")!
    static let linkedSize = HTTPField.Name("X-Linked-Size")!
    static let errorCode = HTTPField.Name("X-Error-Code")!
    static let errorMessage = HTTPField.Name("X-Error-Message")!
}
