import MantaStore
import MantaTestSupport
import MantaWire
import Testing

/// Swarm queries and answers arrive from peers: each number that cannot be believed is refused, naming its field.
@Suite(.threadsOfItsOwn) struct SwarmWireTests {
    static let query = SwarmQuery(
        repo: "acme/shards", commit: String(repeating: "a", count: 40), chunkSize: 4 << 20, files: ["a.safetensors", "b.json"])
    static let id = SHA256Hasher.hash([1]).hex
    static let largest = UInt64(ChunkEncoding.maximumChunkSize)

    /// The field a refused answer names.
    static func refusedField(_ json: String, fileSizes: [String: UInt64]? = nil) -> String? {
        do {
            _ = try SwarmStatus.decode(Array(json.utf8), answering: query, maximumChunkSize: largest, fileSizes: fileSizes)
            return nil
        } catch {
            return error.field
        }
    }

    static func chunk(_ offset: String, _ length: String) -> String {
        #"{"pullingSince": 1700000000, "chunks": {"a.safetensors": [{"offset": \#(offset), "length": \#(length), "id": "\#(id)"}]}}"#
    }

    @Test func aWellFormedAnswerPasses() throws {
        let status = try SwarmStatus.decode(
            Array(Self.chunk("4194304", "4194304").utf8), answering: Self.query, maximumChunkSize: Self.largest, fileSizes: ["a.safetensors": 8 << 20]
        )
        #expect(status.chunks["a.safetensors"]?.first?.offset == 4 << 20)
        #expect(status.pullingSince == 1_700_000_000)
    }

    @Test func chunkNumbersThatOverflowOrExceedTheLimitsAreRefusedByField() {
        #expect(Self.refusedField(Self.chunk("18446744073709551615", "1")) == #"chunks["a.safetensors"][0].offset"#)
        #expect(Self.refusedField(Self.chunk("18446744073709551000", "1000")) == #"chunks["a.safetensors"][0].offset"#)
        #expect(Self.refusedField(Self.chunk("0", "18446744073709551615")) == #"chunks["a.safetensors"][0].length"#)
        #expect(Self.refusedField(Self.chunk("0", "\(Self.largest + 1)")) == #"chunks["a.safetensors"][0].length"#)
        #expect(Self.refusedField(Self.chunk("0", "0")) == #"chunks["a.safetensors"][0].length"#)
        #expect(Self.refusedField(Self.chunk("100", "10"), fileSizes: ["a.safetensors": 105]) == #"chunks["a.safetensors"][0].offset"#)
        #expect(Self.refusedField(Self.chunk("-1", "10")) == "answer", "a negative offset does not decode")
        #expect(Self.refusedField(Self.chunk("0", "99999999999999999999999")) == "answer", "neither does one past UInt64")
    }

    @Test func pullingSinceMustBeATime() {
        for value in ["-1", "1e300", "1e999", "-1e999"] {
            let field = Self.refusedField(#"{"pullingSince": \#(value), "chunks": {}}"#)
            #expect(field == "pullingSince" || field == "answer", "\(value) → \(field ?? "accepted")")
        }
        #expect(Self.refusedField(#"{"pullingSince": "NaN", "chunks": {}}"#) == "answer")
        #expect(Self.refusedField(#"{"pullingSince": -1, "chunks": {}}"#) == "pullingSince")
        #expect(Self.refusedField(#"{"pullingSince": 0, "chunks": {}}"#) == nil)
    }

    @Test func aReceiveRateMustBeAFiniteRateAPeerCouldReach() {
        for value in ["-1", "1e14", "1e999"] {
            let field = Self.refusedField(#"{"receiveRate": \#(value), "chunks": {}}"#)
            #expect(field == "receiveRate" || field == "answer", "\(value) → \(field ?? "accepted")")
        }
        #expect(Self.refusedField(#"{"receiveRate": -1, "chunks": {}}"#) == "receiveRate")
        #expect(Self.refusedField(#"{"receiveRate": 5000000, "chunks": {}}"#) == nil)
        #expect(Self.refusedField(#"{"chunks": {}}"#) == nil, "an agent from before the field answers without it")
    }

    @Test func answersForFilesNotAskedForTooManyChunksOrTooManyBytesAreRefused() {
        let foreign = #"{"chunks": {"../../etc/passwd": [{"offset": 0, "length": 1, "id": "\#(Self.id)"}]}}"#
        #expect(Self.refusedField(foreign) == #"chunks["../../etc/passwd"]"#)
        let entry = #"{"offset": 0, "length": 1, "id": "\#(Self.id)"}"#
        let many = #"{"chunks": {"a.safetensors": [\#(Array(repeating: entry, count: SwarmStatus.maximumChunks + 1).joined(separator: ","))]}}"#
        #expect(Self.refusedField(many) == "chunks")
        let huge = String(repeating: " ", count: SwarmStatus.maximumEncodedSize) + "{}"
        #expect(Self.refusedField(huge) == "answer")
        #expect(Self.refusedField("not json at all") == "answer")
        #expect(Self.refusedField(#"{"node": "\#(String(repeating: "n", count: 1000))", "chunks": {}}"#) == "node")
    }

    @Test func queriesWithNegativeSeenCountsUnsafePathsOrTooManyFilesAreRefused() {
        func field(_ query: SwarmQuery) -> String? {
            do {
                _ = try query.validated()
                return nil
            } catch {
                return error.field
            }
        }
        var query = Self.query
        #expect(field(query) == nil)
        query.seen = ["a.safetensors": -1]
        #expect(field(query) == #"seen["a.safetensors"]"#)
        query.seen = nil
        query.files = ["ok", "../escape"]
        #expect(field(query) == "files[1]")
        query.files = (0...SwarmQuery.maximumFiles).map { "f\($0)" }
        #expect(field(query) == "files")
        query = Self.query
        query.chunkSize = .max
        #expect(field(query) == "chunkSize")
        #expect(throws: SwarmWireError.self) { try SwarmQuery.decode(Array(#"{"repo": 1}"#.utf8)) }
    }
}
