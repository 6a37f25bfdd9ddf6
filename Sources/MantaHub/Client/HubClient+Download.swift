import AsyncHTTPClient
import Logging
import NIOCore
import _NIOFileSystem

extension HubClient {
    /// Reads bytes `range` of a file (the whole file when nil), retrying and resuming after failures.
    /// `consume` sees every byte exactly once, in order, however many attempts it takes. Returns the byte count.
    @discardableResult
    public func stream(
        _ location: HubFileLocation,
        range: Range<Int64>? = nil,
        into consume: (ByteBuffer) async throws -> Void
    ) async throws -> Int64 {
        let url = location.resolveURL(endpoint: configuration.endpoint)
        let start = range?.lowerBound ?? 0
        var offset = start
        var end = range?.upperBound
        if let end, end <= start { return 0 }
        var target = HubRequestTarget(repo: location.repo, revision: location.revision, path: location.path)
        var budget = RetryBudget(client: self, target: target, url: url)
        while end.map({ offset < $0 }) ?? true {
            let offsetBeforeAttempt = offset
            do {
                let rangeHeader = Self.rangeHeader(from: offset, to: end, whole: range == nil && offset == 0)
                target.range = rangeHeader
                let response = try await execute(url, headers: rangeHeader.map { [("Range", $0)] } ?? [], target: target)
                var skip = try Self.bytesToSkip(response, requestedOffset: offset, location: location, url: url)
                let available = try Self.endOffset(response, requestedOffset: offset, location: location, url: url)
                if let wanted = end, available < wanted {
                    throw HubError.rangeNotSatisfiable(
                        repo: location.repo, path: location.path, range: "bytes=\(start)-\(wanted - 1) (file ends at \(available))")
                }
                end = end ?? available
                for try await var buffer in response.body {
                    if skip > 0 {
                        let dropped = min(skip, buffer.readableBytes)
                        buffer.moveReaderIndex(forwardBy: dropped)
                        skip -= dropped
                    }
                    if let end, Int64(buffer.readableBytes) > end - offset {
                        buffer = buffer.getSlice(at: buffer.readerIndex, length: Int(end - offset)) ?? buffer
                    }
                    guard buffer.readableBytes > 0 else { continue }
                    do {
                        try await consume(buffer)
                    } catch {
                        throw ConsumerFailure(underlying: error)
                    }
                    offset += Int64(buffer.readableBytes)
                    if let end, offset == end { break }
                }
                if let end, offset < end { throw IncompleteBody(received: offset - start, expected: end - start) }
            } catch let failure as ConsumerFailure {
                throw failure.underlying
            } catch {
                try await budget.recordFailure(error, madeProgress: offset > offsetBeforeAttempt)
            }
        }
        return offset - start
    }

    /// Bytes `range` of a file, in memory: meant for chunk-sized reads.
    public func fetch(_ location: HubFileLocation, range: Range<Int64>) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        // The hub's answer may be shorter than asked (an error then); never trust a range to size memory beyond a chunk's worth.
        collected.reserveCapacity(Int(clamping: min(range.upperBound - range.lowerBound, Self.maximumReservation)))
        try await stream(location, range: range) { buffer in
            var buffer = buffer
            collected.writeBuffer(&buffer)
        }
        return collected
    }

    /// Downloads `file` of `snapshot` to `destination`, resuming from whatever a previous attempt left there.
    /// The result is checked against the hub's size, and for LFS files against their SHA-256; a file that fails
    /// the check is deleted (nothing corrupt is kept) and the error says why.
    public func download(_ file: HubFile, of snapshot: HubSnapshot, to destination: String) async throws {
        let location = HubFileLocation(snapshot: snapshot, file: file)
        let path = FilePath(destination)
        try await FileSystem.shared.withFileHandle(
            forReadingAndWritingAt: path,
            options: .modifyFile(createIfNecessary: true)
        ) { handle in
            var existing = Int64(try await handle.info().size)
            if existing > file.size {
                try await handle.resize(to: .bytes(0))
                existing = 0
            }
            if existing < file.size {
                logger.debug("downloading", metadata: ["file": "\(location)", "resume_from": "\(existing)"])
                var position = existing
                try await stream(location, range: existing..<file.size) { buffer in
                    try await handle.write(contentsOf: buffer, toAbsoluteOffset: position)
                    position += Int64(buffer.readableBytes)
                }
            }
        }
        do {
            try await HubFileVerifier.verify(fileAt: destination, against: file, repo: snapshot.repo)
        } catch {
            _ = try? await FileSystem.shared.removeItem(at: path)
            throw error
        }
    }

    /// Bytes `fetch` reserves at most before any arrive.
    static let maximumReservation: Int64 = 64 << 20

    static func rangeHeader(from offset: Int64, to end: Int64?, whole: Bool) -> String? {
        if whole { return nil }
        guard let end else { return "bytes=\(offset)-" }
        return "bytes=\(offset)-\(end - 1)"
    }

    /// A 206 must start where we asked; a 200 (a server that ignores Range) is read from the start and skipped.
    static func bytesToSkip(_ response: HTTPClientResponse, requestedOffset: Int64, location: HubFileLocation, url: String) throws -> Int {
        guard response.status == .partialContent else { return Int(requestedOffset) }
        guard let contentRange = response.headers.first(name: "Content-Range").flatMap(ContentRange.init), contentRange.first == requestedOffset
        else {
            throw HubError.invalidResponse(
                repo: location.repo, url: url,
                reason: "206 answer's Content-Range '\(response.headers.first(name: "Content-Range") ?? "")' does not start at \(requestedOffset)"
            )
        }
        return 0
    }

    /// Where the file ends, from `Content-Range`'s total or from `Content-Length`; either must be a non-negative
    /// number whose sum with the requested offset fits.
    static func endOffset(_ response: HTTPClientResponse, requestedOffset: Int64, location: HubFileLocation, url: String) throws -> Int64 {
        if response.status == .partialContent, let total = response.headers.first(name: "Content-Range").flatMap(ContentRange.init)?.total {
            return total
        }
        guard let header = response.headers.first(name: "Content-Length") else {
            throw HubError.invalidResponse(repo: location.repo, url: url, reason: "no Content-Length or Content-Range: the file's size is unknown")
        }
        guard let length = Int64(header.trimmingWhitespace), length >= 0 else {
            throw HubError.invalidResponse(
                repo: location.repo, url: url, reason: "header 'Content-Length' is not a byte count: '\(header.prefix(40))'")
        }
        guard response.status == .partialContent else { return length }
        let (end, overflow) = requestedOffset.addingReportingOverflow(length)
        guard !overflow else {
            throw HubError.invalidResponse(
                repo: location.repo, url: url, reason: "header 'Content-Length' \(length) past offset \(requestedOffset) overflows")
        }
        return end
    }
}

/// The body ended before the announced length: the connection was cut.
struct IncompleteBody: Error, CustomStringConvertible {
    var received: Int64
    var expected: Int64
    var description: String { "connection closed after \(received) of \(expected) bytes" }
}

/// The caller's consumer failed (a full disk, say): not the hub's fault, so not retried.
struct ConsumerFailure: Error {
    var underlying: any Error
}

/// `Content-Range: bytes first-last/total` (total may be `*`): non-negative numbers, `first <= last < total`;
/// anything else (signs, overflowing digits, a total the range passes) is not a Content-Range.
struct ContentRange {
    var first: Int64
    var last: Int64
    var total: Int64?

    init?(_ header: String) {
        guard header.hasPrefix("bytes "), header.utf8.count <= 100 else { return nil }
        let parts = header.dropFirst(6).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let first = Self.number(bounds[0]), let last = Self.number(bounds[1]), first <= last else { return nil }
        self.first = first
        self.last = last
        if parts[1] == "*" {
            total = nil
        } else {
            guard let total = Self.number(parts[1]), last < total else { return nil }
            self.total = total
        }
    }

    /// Decimal digits only: `Int64.init` would also take a sign.
    private static func number(_ text: Substring) -> Int64? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int64(text)
    }
}
