import MantaStore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Caps on what a hub's metadata answers may hold. Everything a hub sends is checked against them before it is
/// summed or allocated, so that a hostile or broken hub fails a request with an error instead of crashing the
/// node, growing its memory without end or pinning a core on absurd sizes.
public struct HubAnswerLimits: Sendable, Hashable {
    /// Bytes of one JSON answer (a model info, one page of the file tree). A tree page of 1,000 entries is under 300 KiB.
    public var maximumAnswerBytes: Int
    /// Pages of one tree listing (`Link: rel="next"`): huggingface.co sends 1,000 entries a page.
    public var maximumPages: Int
    /// Entries of one tree listing, folders included.
    public var maximumEntries: Int
    /// Bytes of one file: huggingface.co takes files up to 50 GB.
    public var maximumFileSize: Int64
    /// Bytes of all the files of a revision.
    public var maximumTotalSize: Int64
    /// Bytes of a file the hub keeps out of LFS: such files are read whole into memory (to check their blob id, and by
    /// `manta add`); huggingface.co refuses them above 10 MB.
    public var maximumPlainFileSize: Int64

    public init(
        maximumAnswerBytes: Int = 16 << 20,
        maximumPages: Int = 1_000,
        maximumEntries: Int = 200_000,
        maximumFileSize: Int64 = 1 << 40,
        maximumTotalSize: Int64 = 64 << 40,
        maximumPlainFileSize: Int64 = 64 << 20
    ) {
        self.maximumAnswerBytes = maximumAnswerBytes
        self.maximumPages = maximumPages
        self.maximumEntries = maximumEntries
        self.maximumFileSize = maximumFileSize
        self.maximumTotalSize = maximumTotalSize
        self.maximumPlainFileSize = maximumPlainFileSize
    }

    /// The defaults, each cap overridden where its environment variable (`variable(for:)`: `MANTA_HUB_MAX_PAGES`,
    /// `MANTA_HUB_MAX_FILE_SIZE`, …) is set, to a positive whole number (bytes for sizes).
    public init(environment: [String: String]) throws(HubAnswerError) {
        self.init()
        func value<Number: FixedWidthInteger>(_ setting: String, _ standard: Number) throws(HubAnswerError) -> Number {
            let variable = Self.variable(for: setting)
            guard let text = environment[variable], !text.isEmpty else { return standard }
            guard let number = Number(text), number > 0 else { throw .invalidSetting(variable: variable, value: text) }
            return number
        }
        maximumAnswerBytes = try value("maximumAnswerBytes", maximumAnswerBytes)
        maximumPages = try value("maximumPages", maximumPages)
        maximumEntries = try value("maximumEntries", maximumEntries)
        maximumFileSize = try value("maximumFileSize", maximumFileSize)
        maximumTotalSize = try value("maximumTotalSize", maximumTotalSize)
        maximumPlainFileSize = try value("maximumPlainFileSize", maximumPlainFileSize)
    }

    /// The environment variable of a cap: `maximumPlainFileSize` is `MANTA_HUB_MAX_PLAIN_FILE_SIZE`.
    public static func variable(for setting: String) -> String {
        let words = setting.dropFirst("maximum".count).reduce(into: "") { name, character in
            if character.isUppercase, !name.isEmpty { name.append("_") }
            name.append(character)
        }
        return "MANTA_HUB_MAX_" + words.uppercased()
    }
}

/// Why a hub's answer was refused: each names the field and, for a cap, the `HubAnswerLimits` setting.
public enum HubAnswerError: Error, Hashable, CustomStringConvertible {
    case unreadable(reason: String)
    case invalidField(field: String, path: String?, reason: String)
    case overLimit(what: String, limit: String, setting: String)
    case invalidSetting(variable: String, value: String)

    public var description: String {
        switch self {
        case .unreadable(let reason):
            "the answer is not the JSON the Hugging Face API sends (\(reason))"
        case .invalidField(let field, let path, let reason):
            "field '\(field)'\(path.map { " of '\($0)'" } ?? "") \(reason)"
        case .overLimit(let what, let limit, let setting):
            "\(what) exceeds the cap of \(limit) (\(HubAnswerLimits.variable(for: setting)) raises it); a genuine hub would not send this"
        case .invalidSetting(let variable, let value):
            "\(variable)='\(value)' is not a positive whole number (bytes for sizes): set it to one, or unset it for the default"
        }
    }
}

extension HubWire {
    /// A file of a tree listing, checked: a safe relative path, a size within the caps, a git blob id, and for LFS
    /// files a SHA-256 and the same size in both places.
    public struct ListedFile: Sendable, Hashable {
        public var path: String
        public var size: Int64
        public var blobID: String
        public var lfs: LFS?

        public struct LFS: Sendable, Hashable {
            public var sha256: Digest
            public var pointerSize: Int
        }
    }

    /// The commit of a model info answer (`/api/models/{repo}/revision/{rev}`): its 40-hex `sha`.
    public static func commit(ofModelInfo bytes: [UInt8], limits: HubAnswerLimits) throws(HubAnswerError) -> String {
        let info = try decode(ModelInfo.self, from: bytes, limits: limits)
        guard let sha = info.sha, GitBlobHasher.isValid(sha) else {
            throw .invalidField(field: "sha", path: nil, reason: "is not a 40-hex commit (got \(info.sha.map { "'\($0.prefix(80))'" } ?? "none"))")
        }
        return sha
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8], limits: HubAnswerLimits) throws(HubAnswerError) -> Value {
        guard bytes.count <= limits.maximumAnswerBytes else {
            throw .overLimit(what: "an answer of \(bytes.count) bytes", limit: "\(limits.maximumAnswerBytes) bytes", setting: "maximumAnswerBytes")
        }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw .unreadable(reason: String(String(describing: error).prefix(300)))
        }
    }
}

/// The files of a tree listing, page by page (`/api/models/{repo}/tree/{commit}?recursive=true`), each page checked
/// and counted against the caps before anything is kept: pure, so that it can be fuzzed without the network.
public struct HubTreeListing: Sendable {
    public let limits: HubAnswerLimits
    public private(set) var files: [HubWire.ListedFile] = []
    public private(set) var pages = 0
    public private(set) var entries = 0
    public private(set) var totalSize: Int64 = 0
    private var paths = Set<String>()

    public init(limits: HubAnswerLimits) {
        self.limits = limits
    }

    /// Adds one page; `hasNext` says the hub links another, which must stay within `maximumPages`.
    public mutating func add(page bytes: [UInt8], hasNext: Bool) throws(HubAnswerError) {
        let page = try HubWire.decode([HubWire.TreeEntry].self, from: bytes, limits: limits)
        pages += 1
        if hasNext, pages >= limits.maximumPages {
            throw .overLimit(what: "a listing of more than \(pages) pages", limit: "\(limits.maximumPages) pages", setting: "maximumPages")
        }
        guard page.count <= limits.maximumEntries - entries else {
            throw .overLimit(
                what: "a listing of more than \(limits.maximumEntries) entries", limit: "\(limits.maximumEntries)", setting: "maximumEntries")
        }
        entries += page.count
        for entry in page where entry.type == "file" {
            let file = try Self.check(entry, limits: limits)
            guard paths.insert(file.path).inserted else {
                throw .invalidField(field: "path", path: file.path, reason: "is listed twice")
            }
            let (sum, overflow) = totalSize.addingReportingOverflow(file.size)
            guard !overflow, sum <= limits.maximumTotalSize else {
                throw .overLimit(what: "the files' total size", limit: "\(limits.maximumTotalSize) bytes", setting: "maximumTotalSize")
            }
            totalSize = sum
            files.append(file)
        }
    }

    static func check(_ entry: HubWire.TreeEntry, limits: HubAnswerLimits) throws(HubAnswerError) -> HubWire.ListedFile {
        let path = entry.path
        guard Manifest.isSafeRelativePath(path) else {
            throw .invalidField(field: "path", path: String(path.prefix(200)), reason: "is not a relative path without '.' or '..' parts")
        }
        guard let size = entry.size, size >= 0 else {
            throw .invalidField(field: "size", path: path, reason: "is missing or negative (\(entry.size.map(String.init) ?? "none"))")
        }
        guard size <= limits.maximumFileSize else {
            throw .overLimit(what: "the size \(size) of '\(path)'", limit: "\(limits.maximumFileSize) bytes", setting: "maximumFileSize")
        }
        guard GitBlobHasher.isValid(entry.oid) else {
            throw .invalidField(field: "oid", path: path, reason: "is not a 40-hex git blob id (got '\(entry.oid.prefix(80))')")
        }
        guard let lfs = entry.lfs else {
            guard size <= limits.maximumPlainFileSize else {
                throw .overLimit(
                    what: "the size \(size) of '\(path)', a file outside LFS", limit: "\(limits.maximumPlainFileSize) bytes",
                    setting: "maximumPlainFileSize"
                )
            }
            return HubWire.ListedFile(path: path, size: size, blobID: entry.oid, lfs: nil)
        }
        guard let sha256 = Digest(hex: lfs.oid) else {
            throw .invalidField(field: "lfs.oid", path: path, reason: "is not a SHA-256 (got '\(lfs.oid.prefix(80))')")
        }
        guard lfs.size == size else {
            throw .invalidField(field: "lfs.size", path: path, reason: "is \(lfs.size) but 'size' is \(size)")
        }
        guard (0...1024).contains(lfs.pointerSize) else {
            throw .invalidField(field: "lfs.pointerSize", path: path, reason: "is \(lfs.pointerSize), not the size of an LFS pointer file")
        }
        return HubWire.ListedFile(path: path, size: size, blobID: entry.oid, lfs: .init(sha256: sha256, pointerSize: lfs.pointerSize))
    }
}
