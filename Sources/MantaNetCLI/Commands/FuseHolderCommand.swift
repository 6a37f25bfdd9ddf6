import ArgumentParser
import Foundation
import Logging
import MantaFS

/// The process that keeps a mount's kernel connection open across restarts of its server (`MountHandover`).
/// `manta mount` and `manta agent` start it themselves; run it yourself (for example as a container of its own
/// in the agent's pod, sharing the socket's folder) to have it outlive them.
struct FuseHolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse-holder",
        abstract: "Keep a mount's FUSE connection open while its server restarts.",
        shouldDisplay: false
    )

    @Option(help: ArgumentHelp("The Unix socket servers hand the connection over on.", valueName: "path"))
    var socket: String

    @Option(help: ArgumentHelp("How long to wait for a server to come back before letting the mount end.", valueName: "duration"))
    var grace = DurationArgument(duration: .seconds(300))

    func run() throws {
        var holder = FuseHolder(socketPath: socket, grace: grace.duration, logger: Logger(label: "manta.fuse-holder"))
        do {
            try holder.run()
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// `--no-handover`, shared by the commands that mount.
struct HandoverOptions: ParsableArguments {
    @Flag(help: "End the mount with this process, as if no holder could keep it (by default a holder process keeps it open across a crash or restart, and the next start with the same store and mount point resumes it).")
    var noHandover = false

    /// The handover of a mount at `mountPoint` (resolved to its real path), served with the store at `storeRoot`.
    func handover(storeRoot: String, mountPoint: String) -> MountHandover? {
        guard !noHandover else { return nil }
        // Only the folder holding the mount point is resolved, by its text: a look at the mount point itself (a stat,
        // which even URL(fileURLWithPath:) makes) waits on a mount that its holder keeps for this very process.
        let trimmed = mountPoint.count > 1 && mountPoint.hasSuffix("/") ? String(mountPoint.dropLast()) : mountPoint
        let slash = trimmed.lastIndex(of: "/")
        let folder = slash.map { $0 == trimmed.startIndex ? "/" : String(trimmed[..<$0]) } ?? "."
        let name = slash.map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        let resolved = realpath(folder, nil).map { pointer in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? folder
        let canonical = (resolved == "/" ? "" : resolved) + "/" + name
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return MountHandover(
            socketPath: MountHandover.defaultSocketPath(storeRoot: storeRoot, mountPoint: canonical),
            holderCommand: [executable, FuseHolderCommand.configuration.commandName!]
        )
    }
}
