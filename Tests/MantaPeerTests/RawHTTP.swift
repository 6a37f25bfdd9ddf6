import Foundation

/// Sends one request exactly as written (no client-side normalisation of the path) and returns the
/// status code and body: how an attacker's request reaches the server.
/// The blocking socket work runs on its own thread, so it never starves the server's tasks of the
/// cooperative pool.
enum RawHTTP {
    static func get(port: Int, path: String, headers: [String: String] = [:]) async throws -> (status: Int, body: [UInt8]) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try blockingGet(port: port, path: path, headers: headers) })
            }.start()
        }
    }

    private static func blockingGet(port: Int, path: String, headers: [String: String]) throws -> (status: Int, body: [UInt8]) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socket) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        _ = request.withCString { send(socket, $0, strlen($0), 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        // Read the head, then exactly Content-Length bytes of body.
        var expectedLength: Int?
        while expectedLength.map({ response.count < $0 }) ?? true {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count <= 0 { break }
            response += buffer[0..<count]
            if expectedLength == nil, let headEnd = response.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound {
                let head = String(decoding: response[..<headEnd], as: UTF8.self).lowercased()
                let length =
                    head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces)) } ?? 0
                expectedLength = headEnd + length
            }
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
        let bodyStart = response.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound ?? response.count
        return (status, Array(response[bodyStart...]))
    }
}
