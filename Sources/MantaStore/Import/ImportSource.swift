#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// The files of a folder to import.
public enum ImportSource {
    struct File: Sendable {
        var relativePath: String
        var absolutePath: String
        var size: UInt64
    }

    /// Folders that hold tool metadata, not repository content.
    static let skippedFolders: Set<String> = [".git", ".cache"]

    /// Fails unless `directory` is a folder: checked before a store is opened (or created) for it.
    public static func requireFolder(_ directory: String) throws {
        switch FileSystem.kind(of: directory) {
        case .missing: throw StoreError.missingDirectory(directory)
        case .directory: return
        default: throw StoreError.notADirectory(directory)
        }
    }

    /// Every regular file below `directory` (links followed), sorted by path. Fails on anything else.
    static func regularFiles(below directory: String) throws -> [File] {
        try requireFolder(directory)
        var files: [File] = []
        var pending = [""]
        while let relative = pending.popLast() {
            let absolute = relative.isEmpty ? directory : "\(directory)/\(relative)"
            guard access(absolute, R_OK | X_OK) == 0 else { throw StoreError.fromErrno(errno, path: absolute, operation: "read folder") }
            for name in try FileSystem.listing(of: absolute) {
                let childRelative = relative.isEmpty ? name : "\(relative)/\(name)"
                let childAbsolute = "\(absolute)/\(name)"
                switch FileSystem.kind(of: childAbsolute) {
                case .directory:
                    if !skippedFolders.contains(name) { pending.append(childRelative) }
                case .regular:
                    var info = stat()
                    stat(childAbsolute, &info)
                    files.append(File(relativePath: childRelative, absolutePath: childAbsolute, size: UInt64(info.st_size)))
                case .missing, .other:
                    throw StoreError.notARegularFile(childAbsolute)
                }
            }
        }
        return files.sorted { $0.relativePath < $1.relativePath }
    }
}
