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

    /// Where a joined instance keeps the API it joined, for the commands run on its machine.
    var joinedFile: String { directory + "/joined.json" }
    var joinedCertificate: String { directory + "/joined-ca.crt" }

    /// How a joined instance reaches its API: the URL, the token's file, and whether the certificate is pinned.
    struct Joined: Codable {
        var server: String
        var tokenFile: String
        var verifiesHostname: Bool
    }

    func saveJoined(_ config: KubeConfig, certificate: [UInt8], tokenFile: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(certificate).write(to: URL(fileURLWithPath: joinedCertificate), options: .atomic)
        let joined = Joined(server: config.server, tokenFile: tokenFile, verifiesHostname: config.verifiesHostname)
        try JSONEncoder().encode(joined).write(to: URL(fileURLWithPath: joinedFile), options: .atomic)
    }

    /// The joined API, or nil when this instance did not join one.
    func joinedConfig() throws -> KubeConfig? {
        guard let data = FileManager.default.contents(atPath: joinedFile) else { return nil }
        let joined: Joined
        do {
            joined = try JSONDecoder().decode(Joined.self, from: data)
        } catch {
            throw ValidationError("\(joinedFile) is damaged (\(error)): run `manta up --join …` again")
        }
        guard let certificate = FileManager.default.contents(atPath: joinedCertificate) else {
            throw ValidationError("\(joinedCertificate) is missing: run `manta up --join …` again")
        }
        var config = KubeConfig(server: joined.server, credentials: .tokenFile(joined.tokenFile), certificateAuthorityPEM: Array(certificate))
        config.verifiesHostname = joined.verifiesHostname
        return config
    }

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

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp("With --server https://…: the API's token (a copy of its <dir>/api/token).", valueName: "file"))
    var tokenFile: String?

    @Option(
        name: .customLong("certificate-authority"),
        help: ArgumentHelp("With --server https://…: the PEM that signs its certificate (its <dir>/api/tls.crt).", valueName: "file"))
    var certificateAuthority: String?

    /// A client of `--server`, else of the local instance: its API socket, or the API it joined.
    func client() throws -> KubeClient {
        var logger = Logger(label: "manta.client")
        logger.logLevel = .warning
        return try KubeClient(config: try config(), logger: logger)
    }

    private func config() throws -> KubeConfig {
        let instance = UpInstance(directory: dir)
        if let server {
            let certificate = try certificateAuthority.map { file in
                guard let bundle = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("--certificate-authority \(file) cannot be read")
                }
                return Array(bundle)
            }
            return KubeConfig(server: server, credentials: tokenFile.map { .tokenFile($0) } ?? .none, certificateAuthorityPEM: certificate)
        }
        if FileManager.default.fileExists(atPath: instance.apiSocket) { return KubeConfig(server: instance.apiURL) }
        if let joined = try instance.joinedConfig() { return joined }
        throw ValidationError("no `manta up` runs with the folder \(instance.directory): start it, or pass --dir or --server")
    }
}
