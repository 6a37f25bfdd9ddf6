import ArgumentParser
import Foundation
import Logging
import MantaKube
import MantaKubeAPI
import MantaStore

/// How a `manta up` instance joins the API of another instead of running its own: Torrents, Replications and
/// NodeTrackers are then shared, and one elected controller spreads replicas over every instance.
struct UpJoinOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Join the API of the `manta up` at this URL instead of running one (it prints the command: https://host:port).", valueName: "url"))
    var join: String?

    @Option(name: .customLong("join-token-file"), help: ArgumentHelp("A copy of the joined instance's <dir>/api/token.", valueName: "file"))
    var tokenFile: String?

    @Option(
        name: .customLong("join-ca-sha256"), help: ArgumentHelp("The SHA-256 of the joined API's certificate, as it printed it.", valueName: "hex"))
    var certificateSHA256: String?

    @Option(name: .customLong("join-ca"), help: ArgumentHelp("Or the CA bundle (PEM) that signs the joined API's certificate.", valueName: "file"))
    var certificateAuthority: String?

    /// The joined API's client configuration, nil when not joining. It checks first that the API answers with the
    /// pinned certificate and accepts the token, and saves where to reach it in the instance's folder, so that
    /// `manta get`, `apply` and the others on this machine reach it too.
    func configuration(for instance: UpInstance) async throws -> KubeConfig? {
        guard let join else {
            guard tokenFile == nil, certificateSHA256 == nil, certificateAuthority == nil else {
                throw ValidationError("--join-token-file, --join-ca-sha256 and --join-ca need --join")
            }
            return nil
        }
        guard join.hasPrefix("https://"), URL(string: join)?.host != nil else {
            throw ValidationError("--join '\(join)' is not https://host:port: the API's token must not cross the network in the clear")
        }
        guard let tokenFile else { throw ValidationError("--join needs --join-token-file: a copy of <dir>/api/token of the instance it joins") }
        do {
            _ = try TokenFile.read(tokenFile)
        } catch {
            throw ValidationError("--join-token-file \(tokenFile) \(error)")
        }
        let certificate: [UInt8]
        switch (certificateSHA256, certificateAuthority) {
        case (let pinned?, nil):
            certificate = try await Self.pinnedCertificate(join, sha256: pinned)
        case (nil, let file?):
            guard let bundle = FileManager.default.contents(atPath: file) else { throw ValidationError("--join-ca \(file) cannot be read") }
            certificate = Array(bundle)
        default:
            throw ValidationError(
                "--join needs one of --join-ca-sha256 (as the joined instance printed it) or --join-ca: its certificate must be checked")
        }
        let absoluteTokenFile = tokenFile.hasPrefix("/") ? tokenFile : FileManager.default.currentDirectoryPath + "/" + tokenFile
        var config = KubeConfig(server: join, credentials: .tokenFile(absoluteTokenFile), certificateAuthorityPEM: certificate)
        config.verifiesHostname = certificateSHA256 == nil
        try await Self.checkAccess(config, tokenFile: tokenFile)
        try instance.saveJoined(config, certificate: certificate, tokenFile: absoluteTokenFile)
        return config
    }

    /// The certificate the API serves, fetched without trusting it and then checked against the hash given.
    static func pinnedCertificate(_ server: String, sha256: String) async throws -> [UInt8] {
        let expected = (sha256.hasPrefix("sha256:") ? String(sha256.dropFirst(7)) : sha256).lowercased()
        guard Digest(hex: expected) != nil else { throw ValidationError("--join-ca-sha256 '\(sha256)' is not 64 hex digits") }
        struct Answer: Decodable { var certificate: String }
        let answer: Answer
        do {
            answer = try await using(KubeConfig(server: server, insecureSkipTLSVerify: true)) { client in
                try await client.get(path: EmbeddedAPIService.certificatePath, as: Answer.self)
            }
        } catch {
            throw ValidationError("cannot fetch the certificate of \(server): \(error)")
        }
        let pem = Array(answer.certificate.utf8)
        guard let actual = APIAccess.certificateSHA256(pem: pem), actual == expected else {
            throw ValidationError(
                "\(server) presents a certificate whose SHA-256 is not \(expected): this is not the instance that printed the join command, or its certificate was made again; nothing was joined"
            )
        }
        return pem
    }

    /// One list through the joined API, so that a wrong token or certificate stops `manta up` with the reason.
    static func checkAccess(_ config: KubeConfig, tokenFile: String) async throws {
        do {
            _ = try await using(config) { client in try await client.list(Torrent.self) }
        } catch let error as KubeError where error.statusCode == 401 {
            throw ValidationError("\(config.server) refused the token in \(tokenFile) (401): copy <dir>/api/token of the instance that serves it")
        } catch {
            throw ValidationError("cannot use the API at \(config.server): \(error)")
        }
    }

    private static func using<T: Sendable>(_ config: KubeConfig, _ body: (KubeClient) async throws -> T) async throws -> T {
        let client = try KubeClient(config: config, logger: quietLogger)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static var quietLogger: Logger {
        var logger = Logger(label: "manta.join")
        logger.logLevel = .warning
        return logger
    }
}
