import MantaCLISupport

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

extension NetworkCommand {
    /// Why `manta-net` could not take over a network command.
    struct ForwardingError: Error, CustomStringConvertible {
        var command: String
        var executable: String
        var reason: String
        var missing: Bool

        /// As a shell reports a command it cannot find (127) or cannot run (126).
        var exitStatus: Int32 { missing ? 127 : 126 }

        var description: String {
            "`manta \(command)` is run by \(NetworkCommand.executableName), and \(executable) could not be started: \(reason). "
                + "Install \(NetworkCommand.executableName) in the same folder as manta (`swift build` builds both)."
        }
    }

    /// The arguments `manta-net` takes over, when `arguments` (a full argv) name a network command,
    /// directly or through `help`.
    static func forwardedArguments(_ arguments: [String]) -> [String]? {
        let words = Array(arguments.dropFirst())
        guard let named = commandName(in: words), NetworkCommand(rawValue: named) != nil else { return nil }
        return words
    }

    /// The command that `words` (argv without the executable) run, or ask help about.
    private static func commandName(in words: [String]) -> String? {
        words.first == "help" ? words.dropFirst().first : words.first
    }

    /// Replaces this process with `manta-net` from this executable's folder; returns only if that failed.
    static func runNetworkExecutable(_ arguments: [String]) -> ForwardingError {
        let command = commandName(in: arguments) ?? ""
        let ownPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let executable = URL(fileURLWithPath: ownPath).deletingLastPathComponent().appendingPathComponent(executableName).path
        var argv = ([executable] + arguments).map { strdup($0) }
        argv.append(nil)
        setenv(MantaVersion.callerEnvironmentKey, MantaVersion.current, 1)
        execv(executable, argv)
        let code = errno
        return ForwardingError(command: command, executable: executable, reason: String(cString: strerror(code)), missing: code == ENOENT)
    }
}
