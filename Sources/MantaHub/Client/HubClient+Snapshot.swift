import AsyncHTTPClient
import Foundation
import MantaStore
import MantaWire
import NIOCore

extension HubClient {
    /// Largest metadata answer accepted (a tree page of 1000 entries is well under 1 MiB).
    static let maximumMetadataSize = 64 * 1024 * 1024

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
        let info = try await getJSON(HubWire.ModelInfo.self, url: url, target: target)
        guard let sha = info.sha, HubRevision.isCommit(sha) else {
            throw HubError.invalidResponse(repo: reference.repo, url: url, reason: "model info has no 40-hex 'sha' (got \(info.sha ?? "none"))")
        }
        return sha
    }

    /// Every file of the commit, following the tree API's `Link: <…>; rel="next"` pages.
    func listFiles(repo: HubRepoID, commit: String, requestedRevision: String) async throws -> [HubFile] {
        let target = HubRequestTarget(repo: repo, revision: requestedRevision)
        var next: String? = "\(configuration.endpoint)/api/models/\(repo)/tree/\(commit)?recursive=true&expand=false"
        var files: [HubFile] = []
        while let url = next {
            let (entries, link) = try await withRetries(url: url, target: target) {
                let response = try await execute(url, target: target)
                let body = try await response.body.collect(upTo: Self.maximumMetadataSize)
                return (try decode([HubWire.TreeEntry].self, from: body, repo: repo, url: url), response.headers.first(name: "Link"))
            }
            for entry in entries where entry.type == "file" {
                files.append(try Self.file(from: entry, repo: repo, url: url))
            }
            next = link.flatMap(Self.nextPageURL)
        }
        return files
    }

    func getJSON<Value: Decodable>(_ type: Value.Type, url: String, target: HubRequestTarget) async throws -> Value {
        try await withRetries(url: url, target: target) {
            let response = try await execute(url, target: target)
            let body = try await response.body.collect(upTo: Self.maximumMetadataSize)
            return try decode(type, from: body, repo: target.repo, url: url)
        }
    }

    private func decode<Value: Decodable>(_ type: Value.Type, from body: ByteBuffer, repo: HubRepoID, url: String) throws -> Value {
        do {
            return try JSONDecoding.decode(type, from: body)
        } catch {
            throw HubError.invalidResponse(repo: repo, url: url, reason: "unexpected JSON (\(error))")
        }
    }

    static func file(from entry: HubWire.TreeEntry, repo: HubRepoID, url: String) throws -> HubFile {
        guard HubPath.isValid(entry.path), let size = entry.size, size >= 0 else {
            throw HubError.invalidResponse(repo: repo, url: url, reason: "tree entry '\(entry.path)' has an invalid path or size")
        }
        guard let lfs = entry.lfs else { return HubFile(path: entry.path, size: size, blobID: entry.oid, lfs: nil) }
        guard let digest = Digest(hex: lfs.oid) else {
            throw HubError.invalidResponse(repo: repo, url: url, reason: "LFS oid '\(lfs.oid)' of '\(entry.path)' is not a SHA-256")
        }
        return HubFile(
            path: entry.path,
            size: size,
            blobID: entry.oid,
            lfs: HubFile.LFS(sha256: digest, size: lfs.size, pointerSize: lfs.pointerSize)
        )
    }

    /// The `rel="next"` target of an RFC 8288 `Link` header.
    static func nextPageURL(_ link: String) -> String? {
        for part in link.split(separator: ",") {
            let fields = part.split(separator: ";").map { String($0).trimmingWhitespace() }
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
