import ArgumentParser
import Foundation
import Logging
import MantaKube

/// Where a `manta up` instance keeps its state, and how the commands that talk to it find it: the API objects in
/// `<dir>/api`, the store in `<dir>/store`, the API's unix socket at `<dir>/api.sock`.
struct UpInstance: Sendable {
    let directory: String

    /// `/var/lib/manta/up` as root, else `$XDG_DATA_HOME/manta/up` or `~/.local/share/manta/up`.
    static var defaultDirectory: String {
        if getuid() == 0 { return "/var/lib/manta/up" }
        let environment = ProcessInfo.processInfo.environment
        let data = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.local/share"
        return data + "/manta/up"
    }

    init(directory: String?) {
        self.directory = directory ?? Self.defaultDirectory
    }

    var apiDirectory: String { directory + "/api" }
    var storeRoot: String { directory + "/store" }
    var apiSocket: String { directory + "/api.sock" }

    /// The socket as a URL the HTTP client dials (`http+unix://` with the path percent-encoded as the host).
    var apiURL: String {
        "http+unix://" + (apiSocket.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? apiSocket)
    }
}

/// Which `manta up` API a command talks to: the local instance's socket unless `--server` names another.
struct UpServerOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The `manta up` folder whose API socket to use (default: as `manta up`).", valueName: "dir"))
    var dir: String?

    @Option(help: ArgumentHelp("The API server's URL instead, e.g. http://127.0.0.1:7481 (`manta up --api-listen`).", valueName: "url"))
    var server: String?

    func client() throws -> KubeClient {
        var logger = Logger(label: "manta.client")
        logger.logLevel = .warning
        let url = server ?? UpInstance(directory: dir).apiURL
        if server == nil, !FileManager.default.fileExists(atPath: UpInstance(directory: dir).apiSocket) {
            throw ValidationError("no `manta up` runs with the folder \(UpInstance(directory: dir).directory): start it, or pass --dir or --server")
        }
        return try KubeClient(config: KubeConfig(server: url), logger: logger)
    }
}
