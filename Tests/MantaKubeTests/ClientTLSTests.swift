import Foundation
import MantaKube
import MantaTestSupport
import NIOSSL
import Testing

/// The client over HTTPS: the CA bundle decides whom it trusts, a client certificate authenticates it.
@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct ClientTLSTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tls")

    static func pem(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func serverTLS(requireClientCertificate: Bool) throws -> TLSConfiguration {
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(pem("server.crt")).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: pem("server.key"), format: .pem)))
        if requireClientCertificate {
            tls.certificateVerification = .noHostnameVerification
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(pem("ca.crt")))
        }
        return tls
    }

    @Test func theServerIsTrustedThroughTheConfiguredCABundle() async throws {
        try await KubeTestEnvironment.with(tls: try Self.serverTLS(requireClientCertificate: false)) { env in
            let client = try KubeClient(
                config: KubeConfig(
                    server: "https://127.0.0.1:\(env.port)", credentials: .token("t"), certificateAuthorityPEM: try Self.pem("ca.crt")),
                logger: quietLogger)
            _ = try await client.create(Torrent.sample("over-tls"))
            #expect(try await client.list(Torrent.self).items.map(\.name) == ["over-tls"])
            try await client.shutdown()
        }
    }

    @Test func aServerSignedByAnotherCAIsRefused() async throws {
        try await KubeTestEnvironment.with(tls: try Self.serverTLS(requireClientCertificate: false)) { env in
            let client = try KubeClient(
                config: KubeConfig(server: "https://127.0.0.1:\(env.port)", certificateAuthorityPEM: try Self.pem("other-ca.crt")),
                connectTimeout: .milliseconds(500), logger: quietLogger)
            do {
                _ = try await client.list(Torrent.self)
                Issue.record("a server with an untrusted certificate was accepted")
            } catch let error as KubeError {
                guard case .transport = error else { throw error }
            }
            try await client.shutdown()
        }
    }

    @Test func aKubeconfigClientCertificateAuthenticatesTheClient() async throws {
        try await KubeTestEnvironment.with(tls: try Self.serverTLS(requireClientCertificate: true)) { env in
            let kubeconfig = """
                apiVersion: v1
                kind: Config
                current-context: test
                clusters:
                - name: test
                  cluster:
                    server: https://127.0.0.1:\(env.port)
                    certificate-authority: ca.crt
                contexts:
                - name: test
                  context: {cluster: test, user: controller}
                users:
                - name: controller
                  user:
                    client-certificate: client.crt
                    client-key-data: \(Data(try Self.pem("client.key")).base64EncodedString())
                """
            let config = try KubeConfig.kubeconfig(yaml: kubeconfig, baseDirectory: Self.directory.path)
            let client = try KubeClient(config: config, logger: quietLogger)
            _ = try await client.list(Torrent.self)
            try await client.shutdown()

            let anonymous = try KubeClient(
                config: KubeConfig(server: "https://127.0.0.1:\(env.port)", certificateAuthorityPEM: try Self.pem("ca.crt")),
                connectTimeout: .milliseconds(500), logger: quietLogger)
            await #expect(throws: KubeError.self) { try await anonymous.list(Torrent.self) }
            try await anonymous.shutdown()
        }
    }

    @Test func badPEMIsAConfigurationError() {
        do {
            _ = try KubeClient(config: KubeConfig(server: "https://127.0.0.1:1", certificateAuthorityPEM: Array("not a certificate".utf8)))
            Issue.record("garbage PEM was accepted")
        } catch {
            #expect(error.description.contains("TLS material is not valid PEM"))
        }
    }
}
