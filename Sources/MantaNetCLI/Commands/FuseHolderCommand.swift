import ArgumentParser
import Foundation
import Logging
import MantaFS
import MantaStore

/// The process that keeps a mount's kernel connection open across restarts of its server (`MountHandover`).
/// `manta mount` and `manta agent` start it themselves; run it yourself with `--stay` (as a DaemonSet of its own,
/// sharing the store's `run` folder) to have it outlive their containers and pods too.
struct FuseHolderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuse-holder",
        abstract: "Keep a mount's FUSE connection open while its server restarts.",
        discussion: "Give --socket, or the --store and --mount of the agent (or manta mount) whose mount it keeps.",
        shouldDisplay: false
    )

    @Option(help: ArgumentHelp("The Unix socket servers hand the connection over on.", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("The store of the mount to keep (with --mount, instead of --socket).", valueName: "path"))
    var store: String?

    @Option(help: ArgumentHelp("The mount point to keep (with --store, instead of --socket).", valueName: "path"))
    var mount: String?

    @Option(help: ArgumentHelp("How long to wait for a server to come back before letting the mount end.", valueName: "duration"))
    var grace = DurationArgument(duration: .seconds(300))

    @Flag(help: "Stay after a mount ends and keep the next one (run on its own, e.g. as a DaemonSet), instead of exiting.")
    var stay = false

    func validate() throws {
        guard (socket == nil) != (store == nil || mount == nil) else {
            throw ValidationError("give either --socket, or both --store and --mount")
        }
    }

    func run() throws {
        let path = socket ?? MountHandover.defaultSocketPath(storeRoot: store!, mountPoint: HandoverOptions.canonicalMountPoint(mount!))
        // SIGTERM and SIGINT end the holder, and with it any mount no server holds too (a stale socket file is
        // taken over by the next holder). Its own handler: as a container's first process, default actions are
        // ignored, and a parent's thread may have passed these signals on blocked.
        var endingSignals = sigset_t()
        sigemptyset(&endingSignals)
        for number in [SIGTERM, SIGINT] {
            sigaddset(&endingSignals, number)
            signal(number) { _ in _exit(0) }
        }
        pthread_sigmask(SIG_UNBLOCK, &endingSignals, nil)
        var holder = FuseHolder(socketPath: path, grace: grace.duration, stays: stay, logger: Logger(label: "manta.fuse-holder"))
        do {
            try holder.run()
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// `--no-handover` and `--leave-mount-on-stop`, shared by the commands that mount.
struct HandoverOptions: ParsableArguments {
    @Flag(
        help:
            "End the mount with this process, as if no holder could keep it (by default a holder process keeps it open across a crash or restart, and the next start with the same store and mount point resumes it)."
    )
    var noHandover = false

    @Flag(
        help:
            "On SIGTERM, leave the mount to its holder for the next start instead of unmounting (with a holder run on its own: `fuse-holder --stay`)."
    )
    var leaveMountOnStop = false

    /// The handover of a mount at `mountPoint`, served with the store at `storeRoot`.
    func handover(storeRoot: String, mountPoint: String) -> MountHandover? {
        guard !noHandover else { return nil }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return MountHandover(
            socketPath: MountHandover.defaultSocketPath(storeRoot: storeRoot, mountPoint: Self.canonicalMountPoint(mountPoint)),
            holderCommand: [executable, FuseHolderCommand.configuration.commandName!],
            leavesMountOnStop: leaveMountOnStop
        )
    }

    /// The mount point with its folder resolved, by text: a look at the mount point itself (a stat, which even
    /// URL(fileURLWithPath:) makes) waits on a mount that its holder keeps for the very process looking.
    static func canonicalMountPoint(_ mountPoint: String) -> String {
        let trimmed = mountPoint.count > 1 && mountPoint.hasSuffix("/") ? String(mountPoint.dropLast()) : mountPoint
        let folder = FileSystem.parent(of: trimmed)
        let name = trimmed.lastIndex(of: "/").map { String(trimmed[trimmed.index(after: $0)...]) } ?? trimmed
        let resolved =
            realpath(folder, nil).map { pointer in
                defer { free(pointer) }
                return String(cString: pointer)
            } ?? folder
        return (resolved == "/" ? "" : resolved) + "/" + name
    }
}
