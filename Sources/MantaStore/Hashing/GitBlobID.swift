import COpenSSL

/// Git's id of a blob: the SHA-1 of `blob <size>\0` followed by the content, as 40 lowercase hex digits. The Hugging
/// Face hub gives it (the tree API's `oid`) for every file; for the files it keeps out of LFS (configs, tokenizers,
/// remote code) it is the only hash the hub vouches for, so it is what a peer's copy of them is checked against.
/// SHA-1 is weak against a forger who chooses both texts, not against one who must match the hub's given id.
public final class GitBlobHasher {
    private let context: OpaquePointer?

    public init(size: UInt64) {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha1(), nil)
        update(Array("blob \(size)\0".utf8))
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The id; call once, after the last update.
    public func finalize() -> String {
        var out = [UInt8](repeating: 0, count: 20)
        var written: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &written)
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: out.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] }, as: UTF8.self)
    }

    /// The blob id of `bytes`, a whole file.
    public static func blobID(of bytes: UnsafeRawBufferPointer) -> String {
        let hasher = GitBlobHasher(size: UInt64(bytes.count))
        hasher.update(bytes)
        return hasher.finalize()
    }

    public static func blobID(of bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { blobID(of: $0) }
    }

    /// Whether `text` is a blob id as git writes it: 40 lowercase hex digits.
    public static func isValid(_ text: some StringProtocol) -> Bool {
        text.utf8.count == 40
            && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}
