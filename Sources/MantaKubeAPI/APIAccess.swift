import COpenSSL
import Foundation
import MantaStore
import NIOSSL

/// What a client on another machine needs to reach the embedded API safely, and what the API checks: the TLS
/// certificate and key it serves with, and the bearer token every request over TCP must carry. Made once in the API's
/// folder and kept, so that a restart keeps the join command it printed.
public struct APIAccess: Sendable {
    public let certificatePEM: [UInt8]
    public let privateKeyPEM: [UInt8]
    public let token: String
    /// Where the token lives: a joining instance is given a copy of this file.
    public let tokenFile: String

    /// Years a generated certificate is valid: it is pinned by its hash, so rotation means a new join command.
    static let generatedValidityDays = 3650

    /// The SHA-256 of the certificate's DER form (`openssl x509 -outform der | sha256sum`), which a joining
    /// instance pins instead of copying the certificate.
    public var certificateSHA256: String {
        Self.certificateSHA256(pem: certificatePEM) ?? ""
    }

    /// Whether an `Authorization` header carries this API's token; compared in constant time.
    public func admits(authorization: String?) -> Bool {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return false }
        let offered = SHA256Hasher.hash(Array(authorization.utf8.dropFirst("Bearer ".utf8.count))).bytes
        let expected = SHA256Hasher.hash(Array(token.utf8)).bytes
        return zip(offered, expected).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    public func serverTLS() throws -> TLSConfiguration {
        TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(certificatePEM).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: privateKeyPEM, format: .pem)))
    }

    /// The access kept in `folder` (`tls.crt`, `tls.key`, `token`), each part made the first time it is missing.
    /// `certificateFile` and `keyFile` bring a certificate of the user's own instead of a generated one; a generated
    /// one names `alternativeNames` (host names and IP addresses clients dial).
    public static func loadOrCreate(
        in folder: String, certificateFile: String? = nil, keyFile: String? = nil, alternativeNames: [String]
    ) throws(APIAccessError) -> APIAccess {
        let tokenFile = folder + "/token"
        if !FileManager.default.fileExists(atPath: tokenFile) {
            var generator = SystemRandomNumberGenerator()
            let token = Digest(bytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).hex
            try writeSecret(Array((token + "\n").utf8), to: tokenFile)
        }
        let token: String
        do {
            token = try TokenFile.read(tokenFile)
        } catch {
            throw .unusable(tokenFile, "\(error)")
        }
        let certificatePath = certificateFile ?? folder + "/tls.crt"
        let keyPath = keyFile ?? folder + "/tls.key"
        if certificateFile == nil, !FileManager.default.fileExists(atPath: certificatePath) || !FileManager.default.fileExists(atPath: keyPath) {
            let (certificate, key) = try generate(commonName: "manta up", alternativeNames: alternativeNames)
            try writeSecret(key, to: keyPath)
            try writeSecret(certificate, to: certificatePath, mode: 0o644)
        }
        guard let certificate = FileManager.default.contents(atPath: certificatePath) else { throw .unusable(certificatePath, "cannot be read") }
        guard let key = FileManager.default.contents(atPath: keyPath) else { throw .unusable(keyPath, "cannot be read") }
        let access = APIAccess(certificatePEM: Array(certificate), privateKeyPEM: Array(key), token: token, tokenFile: tokenFile)
        do {
            _ = try access.serverTLS()
        } catch {
            throw .unusable("\(certificatePath) and \(keyPath)", "are not a PEM certificate and its private key: \(error)")
        }
        guard certificateSHA256(pem: access.certificatePEM) != nil else { throw .unusable(certificatePath, "holds no PEM certificate") }
        return access
    }

    /// The SHA-256 (hex) of the first certificate in a PEM text, or nil when there is none.
    public static func certificateSHA256(pem: [UInt8]) -> String? {
        let text = String(decoding: pem, as: UTF8.self)
        guard let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
            let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex),
            let der = Data(base64Encoded: String(text[begin.upperBound..<end.lowerBound]), options: .ignoreUnknownCharacters)
        else { return nil }
        return SHA256Hasher.hash(Array(der)).hex
    }

    private static func generate(commonName: String, alternativeNames: [String]) throws(APIAccessError) -> (certificate: [UInt8], key: [UInt8]) {
        let names = alternativeNames.map { name in
            (name.contains(":") || name.allSatisfy { $0.isNumber || $0 == "." }) ? "IP:" + name : "DNS:" + name
        }.joined(separator: ",")
        var certificate: UnsafeMutablePointer<UInt8>?
        var certificateLength = 0
        var key: UnsafeMutablePointer<UInt8>?
        var keyLength = 0
        guard c_manta_self_signed_certificate(commonName, names, generatedValidityDays, &certificate, &certificateLength, &key, &keyLength) == 1,
            let certificate, let key
        else {
            throw .generation(names)
        }
        defer {
            free(certificate)
            free(key)
        }
        return (Array(UnsafeBufferPointer(start: certificate, count: certificateLength)), Array(UnsafeBufferPointer(start: key, count: keyLength)))
    }

    /// Writes a file only its owner reads (the key, the token), created with that mode so it is never readable by others.
    private static func writeSecret(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws(APIAccessError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw .cannotWrite(path, String(cString: strerror(errno))) }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else { throw .cannotWrite(path, String(cString: strerror(errno))) }
    }
}

public enum APIAccessError: Error, CustomStringConvertible, Sendable {
    case cannotWrite(String, String)
    case unusable(String, String)
    case generation(String)

    public var description: String {
        switch self {
        case .cannotWrite(let path, let reason): "cannot write \(path): \(reason); check that the folder is writable"
        case .unusable(let path, let reason): "\(path) \(reason); fix or remove it (a removed one is made again, with a new join command)"
        case .generation(let names): "OpenSSL could not make a certificate for \(names); check that the host names are valid"
        }
    }
}
