import Foundation
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
/// Blocking file-system calls run on NIO's thread pool. Only regular files are served (symbolic links are
/// followed, so a huggingface_hub cache snapshot folder can be served as it is); `.git` folders are skipped.
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

    /// Every regular file under `folder`, with repository paths relative to it.
    static func files(in folder: String) async throws -> [DiskFile] {
        try await NIOThreadPool.singleton.runIfActive {
            var files: [DiskFile] = []
            try collect(folder: folder, prefix: "", depth: 0, into: &files)
            return files.sorted { $0.path < $1.path }
        }
    }

    private static func collect(folder: String, prefix: String, depth: Int, into files: inout [DiskFile]) throws {
        guard depth < maximumDepth else { return }
        for entry in try FileManager.default.contentsOfDirectory(atPath: folder) where entry != ".git" {
            let diskPath = folder + "/" + entry
            let path = prefix + entry
            var info = stat()
            guard stat(diskPath, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try collect(folder: diskPath, prefix: path + "/", depth: depth + 1, into: &files)
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

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
