import AsyncHTTPClient
import Foundation
import MantaStore
import MantaWire
import NIOCore

extension HubClient {
    /// Resolves `reference` to its commit and lists the commit's files with sizes and LFS digests.
    /// With `filename`, the snapshot holds only that file, and a missing file is a `fileNotFound` error.
    public func snapshot(of reference: HubModelReference, filename: String? = nil) async throws -> HubSnapshot {
        if let filename, !HubPath.isValid(filename) { throw HubError.invalidPath(filename) }
        let commit = try await resolveCommit(reference)
        let files = try await listFiles(repo: reference.repo, commit: commit, requestedRevision: reference.revision)
        guard let filename else {
            return HubSnapshot(repo: reference.repo, revision: reference.revision, commit: commit, files: files)
        }
        guard let file = files.first(where: { $0.path == filename }) else {
            throw HubError.fileNotFound(repo: reference.repo, revision: reference.revision, path: filename)
        }
        return HubSnapshot(repo: reference.repo, revision: reference.revision, commit: commit, files: [file])
    }

    /// The commit a branch or tag points to now (a commit sha resolves to itself once the hub confirms it).
    public func resolveCommit(_ reference: HubModelReference) async throws -> String {
        let url = "\(configuration.endpoint)/api/models/\(reference.repo)/revision/\(URLEncoding.component(reference.revision))"
        let target = HubRequestTarget(repo: reference.repo, revision: reference.revision)
        let (body, _) = try await metadata(url: url, target: target)
        do {
            return try HubWire.commit(ofModelInfo: body, limits: configuration.limits)
        } catch {
            throw HubError.invalidResponse(repo: reference.repo, url: url, reason: "model info: \(error)")
        }
    }

    /// Every file of the commit, following the tree API's `Link: <…>; rel="next"` pages on the same hub, each page
    /// once, within `configuration.limits`.
    func listFiles(repo: HubRepoID, commit: String, requestedRevision: String) async throws -> [HubFile] {
        let target = HubRequestTarget(repo: repo, revision: requestedRevision)
        var next: String? = "\(configuration.endpoint)/api/models/\(repo)/tree/\(commit)?recursive=true&expand=false"
        var listing = HubTreeListing(limits: configuration.limits)
        var visited = Set<String>()
        while let url = next {
            visited.insert(url)
            let (body, link) = try await metadata(url: url, target: target)
            next = link.flatMap(Self.nextPageURL)
            if let page = next {
                guard page.hasPrefix(configuration.endpoint + "/") else {
                    throw HubError.invalidResponse(
                        repo: repo, url: url, reason: "header 'Link' sends the next page off the hub, to \(page.prefix(200))")
                }
                guard !visited.contains(page) else {
                    throw HubError.invalidResponse(
                        repo: repo, url: url, reason: "header 'Link' names a page already read (\(page.prefix(200))): the listing would never end")
                }
            }
            do {
                try listing.add(page: body, hasNext: next != nil)
            } catch {
                throw HubError.invalidResponse(repo: repo, url: url, reason: "file tree: \(error)")
            }
        }
        return listing.files.map { file in
            HubFile(
                path: file.path, size: file.size, blobID: file.blobID,
                lfs: file.lfs.map { HubFile.LFS(sha256: $0.sha256, size: file.size, pointerSize: $0.pointerSize) }
            )
        }
    }

    /// The body and `Link` header of one metadata answer, with retries; every attempt bounded in bytes
    /// (`limits.maximumAnswerBytes`) and in time (`metadataTimeout`, the body included).
    func metadata(url: String, target: HubRequestTarget) async throws -> (body: [UInt8], link: String?) {
        let limit = configuration.limits.maximumAnswerBytes
        return try await withRetries(url: url, target: target) {
            try await withTimeout(configuration.metadataTimeout) {
                let response = try await execute(url, target: target)
                do {
                    let body = try await response.body.collect(upTo: limit)
                    return (Array(body.readableBytesView), response.headers.first(name: "Link"))
                } catch is NIOTooManyBytesError {
                    throw HubError.invalidResponse(
                        repo: target.repo, url: url,
                        reason: "the answer is longer than \(limit) bytes (\(HubAnswerLimits.variable(for: "maximumAnswerBytes")) raises it)"
                    )
                }
            }
        }
    }

    /// `body`'s result, or a `MetadataTimeout` (retried like a broken connection) once `timeout` has passed.
    private func withTimeout<Value: Sendable>(_ timeout: TimeAmount, _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
        try await withThrowingTaskGroup(of: Value.self) { group in
            group.addTask { try await body() }
            group.addTask { [clock] in
                try await clock.sleep(for: .nanoseconds(timeout.nanoseconds))
                throw MetadataTimeout(timeout: timeout)
            }
            defer { group.cancelAll() }
            guard let value = try await group.next() else { throw CancellationError() }
            return value
        }
    }

    /// The `rel="next"` target of an RFC 8288 `Link` header.
    static func nextPageURL(_ link: String) -> String? {
        for part in link.split(separator: ",") {
            let fields = part.split(separator: ";").map { String($0).trimmingWhitespace }
            guard let first = fields.first, first.hasPrefix("<"), first.hasSuffix(">") else { continue }
            if fields.dropFirst().contains(where: { $0.replacingOccurrences(of: " ", with: "") == "rel=\"next\"" || $0 == "rel=next" }) {
                return String(first.dropFirst().dropLast())
            }
        }
        return nil
    }
}

/// Percent-encoding for URL path parts: RFC 3986 unreserved characters stay as they are.
enum URLEncoding {
    static func component(_ text: String) -> String { encode(text, keeping: "") }

    /// A repository path: each `/`-separated part encoded, the separators kept.
    static func path(_ text: String) -> String { encode(text, keeping: "/") }

    private static func encode(_ text: String, keeping extra: String) -> String {
        let kept = Set(("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~" + extra).utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if kept.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xf)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
