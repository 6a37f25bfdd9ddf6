import Foundation
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Reads the served directory. Layout:
///
///     <root>/<namespace>/<name>/              revision "main"
///     <root>/<namespace>/<name>@<revision>/   any other branch or tag ('/' in a revision written as %2F)
///
/// Blocking file-system calls run on NIO's thread pool. Only regular files are served; `.git` folders are skipped.
/// A revision folder may itself be a symbolic link to a folder kept anywhere (that is how an operator publishes it).
/// Below it, a link is followed only when it resolves inside the revision folder, inside the served root, or, for a
/// `huggingface_hub` cache snapshot (`…/models--org--name/snapshots/<commit>`), inside that repository's cache folder
/// (where its links point, at `../../blobs/…`); any other link is skipped with a warning, so that a link placed in a
/// repository cannot serve `/etc/shadow`. Each folder is read once per scan, so links that loop end the descent.
enum RepositoryScanner {
    struct DiskFile: Sendable, Hashable {
        var path: String
        var diskPath: String
        var identity: FileIdentity
    }

    /// What decides whether a cached hash is still valid.
    struct FileIdentity: Sendable, Hashable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedNanoseconds: Int64
    }

    static let maximumDepth = 32

    /// The revision folders of `repo`: revision name → folder.
    static func revisionFolders(root: String, repo: HubRepoID) async throws -> [String: String] {
        try await NIOThreadPool.singleton.runIfActive {
            let namespaceFolder = root + "/" + repo.namespace
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: namespaceFolder) else { return [:] }
            var folders: [String: String] = [:]
            for entry in names where isDirectory(namespaceFolder + "/" + entry) {
                if entry == repo.name {
                    folders[HubModelReference.defaultRevision] = namespaceFolder + "/" + entry
                } else if entry.hasPrefix(repo.name + "@") {
                    let encoded = entry.dropFirst(repo.name.count + 1)
                    if let revision = String(encoded).removingPercentEncoding, HubRevision.isValid(revision), !HubRevision.isCommit(revision) {
                        folders[revision] = namespaceFolder + "/" + entry
                    }
                }
            }
            return folders
        }
    }

    /// Every regular file under `folder` (a revision folder of the served `root`), with repository paths relative to it.
    static func files(in folder: String, root: String, logger: Logger) async throws -> [DiskFile] {
        try await NIOThreadPool.singleton.runIfActive {
            var scan = Scan(boundaries: boundaries(folder: folder, root: root), logger: logger)
            var info = stat()
            guard stat(folder, &info) == 0 else { return [] }
            scan.visited.insert(FolderIdentity(info))
            try scan.collect(folder: folder, prefix: "", depth: 0)
            return scan.files.sorted { $0.path < $1.path }
        }
    }

    /// The real folders links below `folder` may resolve into (see the type's comment).
    static func boundaries(folder: String, root: String) -> [String] {
        var boundaries = [realPath(root), realPath(folder)].compactMap { $0 }
        if let real = realPath(folder) {
            let parts = real.split(separator: "/")
            if parts.count >= 3, parts[parts.count - 2] == "snapshots", parts[parts.count - 3].contains("--") {
                boundaries.append("/" + parts.dropLast(2).joined(separator: "/"))
            }
        }
        return boundaries
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private struct FolderIdentity: Hashable {
        var device: UInt64
        var inode: UInt64

        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    private struct Scan {
        let boundaries: [String]
        let logger: Logger
        var visited = Set<FolderIdentity>()
        var files: [DiskFile] = []

        mutating func collect(folder: String, prefix: String, depth: Int) throws {
            guard depth < maximumDepth else { return }
            for entry in try FileManager.default.contentsOfDirectory(atPath: folder) where entry != ".git" {
                let diskPath = folder + "/" + entry
                let path = prefix + entry
                var info = stat()
                guard lstat(diskPath, &info) == 0 else { continue }
                if info.st_mode & S_IFMT == S_IFLNK {
                    guard let target = realPath(diskPath) else {
                        logger.warning("skipping a link that leads nowhere (or into a loop)", metadata: ["link": "\(diskPath)"])
                        continue
                    }
                    guard boundaries.contains(where: { target == $0 || target.hasPrefix($0 == "/" ? "/" : $0 + "/") }) else {
                        logger.warning(
                            "skipping a link out of the served folder", metadata: ["link": "\(diskPath)", "target": "\(target)"]
                        )
                        continue
                    }
                    guard stat(diskPath, &info) == 0 else { continue }
                }
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    guard visited.insert(FolderIdentity(info)).inserted else {
                        logger.warning("skipping a folder already served: links loop back to it", metadata: ["folder": "\(diskPath)"])
                        continue
                    }
                    try collect(folder: diskPath, prefix: path + "/", depth: depth + 1)
                case S_IFREG where HubPath.isValid(path):
                    let identity = FileIdentity(
                        device: UInt64(info.st_dev),
                        inode: UInt64(info.st_ino),
                        size: Int64(info.st_size),
                        modifiedNanoseconds: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
                    )
                    files.append(DiskFile(path: path, diskPath: diskPath, identity: identity))
                default:
                    continue
                }
            }
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
