import MantaStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Standard error, written straight through `write(2)`: messages and the progress bar must not wait in a buffer.
public enum StandardError {
    public static let isTerminal = isatty(STDERR_FILENO) != 0

    public static func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { buffer in retryingEINTR { Glibc.write(STDERR_FILENO, buffer.baseAddress, buffer.count) } }
            guard written > 0 else { return }
            bytes = bytes.dropFirst(written)
        }
    }
}
