import Foundation

/// Paths of the fixtures that `scripts/make-fixtures.py` makes. Tests that need one fail, loudly, when it
/// is missing: they never pass without having run.
public enum Fixtures {
    public struct Missing: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "fixture \(path) is missing: run `python3 scripts/make-fixtures.py` (the README's test command does)"
        }
    }

    /// `$MANTA_FIXTURES`, or `.fixtures` in the package folder.
    public static var root: String {
        ProcessInfo.processInfo.environment["MANTA_FIXTURES"] ?? PackageFolder.path + "/.fixtures"
    }

    public static let realModelRepo = "sentence-transformers/all-MiniLM-L6-v2"

    public static func realModel() throws -> String { try require("real/\(realModelRepo)") }
    public static func syntheticShards() throws -> String { try require("synthetic-48m") }
    public static func syntheticShardsEdited() throws -> String { try require("synthetic-48m-edited") }
    public static func gguf() throws -> String { try require("gguf") }
    public static func ggufEdited() throws -> String { try require("gguf-edited") }

    /// Copies the fixture folder at `path` to `destination` (a hub's `<org>/<name>` folder, say), making the
    /// folders above it; returns the bytes of its files.
    @discardableResult
    public static func copy(_ path: String, to destination: String) throws -> Int64 {
        let files = FileManager.default
        try files.createDirectory(atPath: URL(fileURLWithPath: destination).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try files.copyItem(atPath: path, toPath: destination)
        return try files.subpathsOfDirectory(atPath: destination).reduce(Int64(0)) { total, name in
            let attributes = try files.attributesOfItem(atPath: "\(destination)/\(name)")
            return total + (attributes[.type] as? FileAttributeType == .typeRegular ? (attributes[.size] as? Int64 ?? 0) : 0)
        }
    }

    public static func require(_ relative: String) throws -> String {
        let path = "\(root)/\(relative)"
        guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
        return path
    }
}

/// The package's own folder, found from this file's place in it.
public enum PackageFolder {
    public static var path: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }
}
