import Foundation
import MantaStore
import Yams

/// How to reach and authenticate to an API server.
public struct KubeConfig: Sendable {
    public enum Credentials: Sendable {
        case none
        /// A bearer token.
        case token(String)
        /// A bearer token read from a file on each request, so rotated service-account tokens are picked up.
        case tokenFile(String)
        /// A client certificate and key, PEM.
        case clientCertificate(certificatePEM: [UInt8], keyPEM: [UInt8])
    }

    /// `https://host:port` (or `http://` in tests), with no trailing slash.
    public var server: String
    public var credentials: Credentials
    /// PEM bundle of the CAs that sign the server certificate; nil uses the system roots.
    public var certificateAuthorityPEM: [UInt8]?
    public var insecureSkipTLSVerify: Bool
    /// False when the CA is the server's own certificate, pinned by its hash: the pin names the server, whatever
    /// address it was dialled by.
    public var verifiesHostname = true
    /// The namespace for namespaced objects the controller writes (Leases, Events).
    public var namespace: String

    public init(
        server: String, credentials: Credentials = .none, certificateAuthorityPEM: [UInt8]? = nil,
        insecureSkipTLSVerify: Bool = false, namespace: String = "default"
    ) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.credentials = credentials
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.namespace = namespace
    }
}

extension KubeConfig {
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The configuration of a pod: `KUBERNETES_SERVICE_HOST`/`PORT` and the mounted service-account files.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = serviceAccountDirectory
    ) throws(KubeError) -> KubeConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw .configuration("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a pod; pass a kubeconfig instead")
        }
        guard UInt16(port) != nil else {
            throw .configuration("KUBERNETES_SERVICE_PORT '\(port)' is not a port number")
        }
        // An IPv6 literal needs brackets in a URL.
        let authority = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw .configuration("service-account token \(tokenPath) is missing; mount a service account token")
        }
        let caPath = serviceAccountDirectory + "/ca.crt"
        guard let ca = FileManager.default.contents(atPath: caPath) else {
            throw .configuration("service-account CA bundle \(caPath) is missing")
        }
        let namespace = FileManager.default.contents(atPath: serviceAccountDirectory + "/namespace")
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        return KubeConfig(
            server: "https://\(authority)", credentials: .tokenFile(tokenPath), certificateAuthorityPEM: Array(ca),
            namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default")
    }

    /// The kubeconfig at `$KUBECONFIG` (first entry) or `~/.kube/config`.
    public static func defaultKubeconfigPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let list = environment["KUBECONFIG"], let first = list.split(separator: ":").first { return String(first) }
        return (environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"
    }

    /// Loads a kubeconfig file, using `context` or its `current-context`.
    public static func kubeconfig(path: String, context: String? = nil) throws(KubeError) -> KubeConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .configuration("kubeconfig \(path) cannot be read")
        }
        let baseDirectory = (path as NSString).deletingLastPathComponent
        return try kubeconfig(yaml: String(decoding: data, as: UTF8.self), context: context, baseDirectory: baseDirectory)
    }

    /// Parses kubeconfig YAML; relative file paths resolve against `baseDirectory`.
    public static func kubeconfig(yaml: String, context requested: String? = nil, baseDirectory: String = ".") throws(KubeError) -> KubeConfig {
        let file: KubeconfigFile
        do {
            file = try YAMLDecoder().decode(KubeconfigFile.self, from: yaml)
        } catch {
            throw .configuration("kubeconfig is not valid YAML of the expected shape: \(error)")
        }
        guard let contextName = requested ?? file.currentContext else {
            throw .configuration("kubeconfig has no current-context; pass a context name")
        }
        guard let context = file.contexts?.first(where: { $0.name == contextName })?.value else {
            throw .configuration("kubeconfig has no context named '\(contextName)'")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == context.cluster })?.value else {
            throw .configuration("kubeconfig context '\(contextName)' names cluster '\(context.cluster)', which is not defined")
        }
        let user = context.user.flatMap { name in file.users?.first(where: { $0.name == name })?.value }
        if let name = context.user, user == nil {
            throw .configuration("kubeconfig context '\(contextName)' names user '\(name)', which is not defined")
        }
        func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : baseDirectory + "/" + path }
        func material(inline: String?, file: String?, what: String) throws(KubeError) -> [UInt8]? {
            if let inline {
                guard let decoded = Data(base64Encoded: inline, options: .ignoreUnknownCharacters) else {
                    throw .configuration("kubeconfig \(what) data is not base64")
                }
                return Array(decoded)
            }
            if let file {
                guard let contents = FileManager.default.contents(atPath: resolve(file)) else {
                    throw .configuration("kubeconfig \(what) file \(resolve(file)) cannot be read")
                }
                return Array(contents)
            }
            return nil
        }
        var credentials = Credentials.none
        if let user {
            if let token = user.token {
                credentials = .token(token)
            } else if let tokenFile = user.tokenFile {
                credentials = .tokenFile(resolve(tokenFile))
            } else if let certificate = try material(inline: user.clientCertificateData, file: user.clientCertificate, what: "client-certificate") {
                guard let key = try material(inline: user.clientKeyData, file: user.clientKey, what: "client-key") else {
                    throw .configuration("kubeconfig user '\(context.user ?? "")' has a client certificate but no client key")
                }
                credentials = .clientCertificate(certificatePEM: certificate, keyPEM: key)
            }
        }
        return KubeConfig(
            server: cluster.server, credentials: credentials,
            certificateAuthorityPEM: try material(
                inline: cluster.certificateAuthorityData, file: cluster.certificateAuthority, what: "certificate-authority"),
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false,
            namespace: context.namespace ?? "default")
    }
}

/// The parts of a kubeconfig file the client uses.
private struct KubeconfigFile: Decodable {
    struct Named<Value: Decodable>: Decodable {
        var name: String
        var value: Value?
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: StringCodingKey.self)
            name = try container.decode(String.self, forKey: StringCodingKey("name"))
            value = nil
            for key in ["cluster", "context", "user"] where container.contains(StringCodingKey(key)) {
                value = try container.decode(Value.self, forKey: StringCodingKey(key))
            }
        }
    }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }

    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        enum CodingKeys: String, CodingKey {
            case token
            case tokenFile
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
    }

    var clusters: [Named<Cluster>]?
    var contexts: [Named<Context>]?
    var users: [Named<User>]?
    var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case clusters, contexts, users
        case currentContext = "current-context"
    }
}
