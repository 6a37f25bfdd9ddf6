import Foundation
import MantaKube
import MantaTestSupport
import NIOCore
import Testing

@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct ClientConfigTests {
    static let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: prod
        clusters:
        - name: prod-cluster
          cluster:
            server: https://10.0.0.1:6443
            certificate-authority-data: \(Data("CA-PEM".utf8).base64EncodedString())
        - name: dev-cluster
          cluster:
            server: https://dev.example:6443/
            insecure-skip-tls-verify: true
        contexts:
        - name: prod
          context: {cluster: prod-cluster, user: admin, namespace: manta-system}
        - name: dev
          context: {cluster: dev-cluster, user: developer}
        - name: broken
          context: {cluster: nowhere, user: admin}
        users:
        - name: admin
          user:
            token: secret-token
        - name: developer
          user:
            client-certificate-data: \(Data("CERT".utf8).base64EncodedString())
            client-key-data: \(Data("KEY".utf8).base64EncodedString())
        """

    @Test func kubeconfigUsesTheCurrentContextWithTokenAndCA() throws {
        let config = try KubeConfig.kubeconfig(yaml: Self.kubeconfig)
        #expect(config.server == "https://10.0.0.1:6443")
        #expect(config.namespace == "manta-system")
        #expect(config.certificateAuthorityPEM == Array("CA-PEM".utf8))
        guard case .token("secret-token") = config.credentials else { throw TestFailure("expected the admin token, got \(config.credentials)") }
    }

    @Test func kubeconfigContextCanBeChosenAndCarriesAClientCertificate() throws {
        let config = try KubeConfig.kubeconfig(yaml: Self.kubeconfig, context: "dev")
        #expect(config.server == "https://dev.example:6443")
        #expect(config.insecureSkipTLSVerify)
        #expect(config.namespace == "default")
        guard case .clientCertificate(let certificate, let key) = config.credentials else { throw TestFailure("expected a client certificate") }
        #expect(certificate == Array("CERT".utf8) && key == Array("KEY".utf8))
    }

    @Test(arguments: [
        ("missing", "no context named 'missing'"),
        ("broken", "names cluster 'nowhere', which is not defined"),
    ])
    func kubeconfigErrorsNameTheProblem(context: String, message: String) {
        do {
            _ = try KubeConfig.kubeconfig(yaml: Self.kubeconfig, context: context)
            Issue.record("context \(context) was accepted")
        } catch {
            #expect(error.description.contains(message))
        }
    }

    @Test func kubeconfigThatIsNotYAMLIsRejected() {
        #expect(throws: KubeError.self) { try KubeConfig.kubeconfig(yaml: "clusters: [unclosed") }
    }

    @Test func inClusterConfigBracketsIPv6AndReadsTheServiceAccount() throws {
        let directory = try TemporaryDirectory()
        try directory.write("token", "abc")
        try directory.write("ca.crt", "CA")
        try directory.write("namespace", "manta-system\n")
        let v6 = try KubeConfig.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccountDirectory: directory.path)
        #expect(v6.server == "https://[fd00::1]:443")
        #expect(v6.namespace == "manta-system")
        #expect(v6.certificateAuthorityPEM == Array("CA".utf8))
        guard case .tokenFile(let path) = v6.credentials, path.hasSuffix("/token") else { throw TestFailure("expected the token file") }
        let v4 = try KubeConfig.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccountDirectory: directory.path)
        #expect(v4.server == "https://10.96.0.1:443")
    }

    @Test func inClusterConfigOutsideAPodSaysSo() {
        do {
            _ = try KubeConfig.inCluster(environment: [:], serviceAccountDirectory: "/nonexistent")
            Issue.record("in-cluster config without environment was accepted")
        } catch {
            #expect(error.description.contains("KUBERNETES_SERVICE_HOST"))
        }
    }

    @Test func aRotatedServiceAccountTokenIsPickedUp() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("token", "first")
        try await KubeTestEnvironment.with { env in
            env.store.requireToken("first")
            let client = try KubeClient(
                config: KubeConfig(server: "http://127.0.0.1:\(env.port)", credentials: .tokenFile(directory.path + "/token")),
                tokenRefreshInterval: .seconds(3600))
            _ = try await client.list(Torrent.self)
            try directory.write("token", "second")
            env.store.requireToken("second")
            // The cached token is refused; the client reads the file again and retries.
            _ = try await client.list(Torrent.self)
            try await client.shutdown()
        }
    }

    @Test func lineBufferJoinsLinesSplitAcrossChunks() {
        var lines = LineBuffer()
        lines.append(ByteBuffer(string: "{\"a\":"))
        #expect(lines.nextLine() == nil)
        lines.append(ByteBuffer(string: "1}\n{\"b\""))
        #expect(lines.nextLine().map { String(buffer: $0) } == "{\"a\":1}")
        #expect(lines.nextLine() == nil)
        lines.append(ByteBuffer(string: ":2}\n\n{\"c\":3}"))
        #expect(lines.nextLine().map { String(buffer: $0) } == "{\"b\":2}")
        #expect(lines.nextLine().map { String(buffer: $0) } == "")
        #expect(lines.nextLine() == nil)
        #expect(lines.remainder().map { String(buffer: $0) } == "{\"c\":3}")
    }
}

extension TemporaryDirectory {
    func write(_ name: String, _ contents: String) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: appending(name)), options: .atomic)
    }
}

@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct TimestampTests {
    @Test func microTimeHasSixFractionalDigitsAndParsesBack() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000.012345)
        let text = KubeJSON.microTime(date)
        #expect(text.hasPrefix("2023-11-14T22:13:20.0123"))
        #expect(text.count == "2023-11-14T22:13:20.012345Z".count)
        let parsed = try #require(KubeJSON.parseTimestamp(text))
        #expect(abs(parsed.timeIntervalSince(date)) < 0.001)
        #expect(KubeJSON.parseTimestamp("2023-11-14T22:13:20Z") == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(KubeJSON.parseTimestamp("yesterday") == nil)
    }
}
