import HummingbirdCore
import Logging
import NIOCore

/// Hummingbird's HTTP/1 child channel with `ServerLimits` applied: the connection caps at accept, the header caps in
/// the decoder, the idle timeout, and `RequestLimitsHandler` for bodies and stalled readers.
public struct LimitedHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    public struct Value: ServerChildChannelValue {
        public let channel: any Channel
        /// nil: the connection was not admitted, and is closed at once.
        let http: HTTP1Channel.Value?
    }

    public let responder: HTTPChannelHandler.Responder
    let limiter: ConnectionLimiter

    public init(responder: @escaping HTTPChannelHandler.Responder, limiter: ConnectionLimiter) {
        self.responder = responder
        self.limiter = limiter
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard let id = limiter.admit(channel) else {
            // Closed in `handle`, once registered: a channel closed during its initializer fails the server's accept loop.
            return channel.eventLoop.makeSucceededFuture(Value(channel: channel, http: nil))
        }
        channel.closeFuture.whenComplete { [limiter] _ in limiter.release(id) }
        let limits = limiter.limits
        let http = HTTP1Channel(
            responder: responder,
            configuration: .init(
                additionalChannelHandlers: [RequestLimitsHandler(limits: limits, limiter: limiter, id: id, logger: logger)],
                idleTimeout: TimeAmount(bounded: limits.idleTimeout),
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: limits.maxHeaderFieldSize, maxHeaderListSize: limits.maxHeaderListSize,
                    maxHeaderFieldCount: limits.maxHeaderCount)))
        return http.setup(channel: channel, logger: logger).map { Value(channel: channel, http: $0) }
    }

    public func handle(value: Value, logger: Logger) async {
        guard let http = value.http else {
            try? await value.channel.close()
            return
        }
        await handleHTTP(asyncChannel: http, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with `limits` on connections, headers, bodies and time; the limiter reports what it counts.
    public static func http1(limiter: ConnectionLimiter) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in LimitedHTTP1Channel(responder: responder, limiter: limiter) }
    }

    /// HTTP/1 with `limits` on connections, headers, bodies and time.
    public static func http1(limits: ServerLimits, logger: Logger) -> HTTPServerBuilder {
        http1(limiter: ConnectionLimiter(limits: limits, logger: logger))
    }
}
