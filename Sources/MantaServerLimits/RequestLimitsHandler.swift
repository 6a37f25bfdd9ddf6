import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// Sits on every accepted connection, after the HTTP decoder: bounds one request's body in size and in time,
/// closes a connection whose client stopped reading its response, and tells the `ConnectionLimiter` when a request
/// is in progress (such a connection is never displaced).
final class RequestLimitsHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let limits: ServerLimits
    private let limiter: ConnectionLimiter
    private let id: UInt64
    private let logger: Logger
    private var bodyBytes = 0
    /// After a request was refused for its size, the rest of what the client sends is dropped until the close.
    private var refused = false
    private var bodyDeadline: Scheduled<Void>?
    private var stallDeadline: Scheduled<Void>?

    init(limits: ServerLimits, limiter: ConnectionLimiter, id: UInt64, logger: Logger) {
        self.limits = limits
        self.limiter = limiter
        self.id = id
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            limiter.setBusy(id, true)
            bodyBytes = 0
            // `Int(_:)` of a decimal string is nil on overflow, never a trap; NIO's parser already refused malformed ones.
            if let declared = head.headerFields[.contentLength].flatMap({ Int($0) }), declared > limits.maxRequestBodySize {
                refuse(context, "a request body of \(declared) bytes is over this server's limit of \(limits.maxRequestBodySize) bytes")
                return
            }
            bodyDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(bounded: limits.bodyReadTimeout)) { [self] in
                close(context, "the request body did not arrive within \(limits.bodyReadTimeout)")
            }
        case .body(let buffer):
            // Bounded: the connection closes as soon as the sum passes the cap, long before an Int could overflow.
            bodyBytes += buffer.readableBytes
            if bodyBytes > limits.maxRequestBodySize {
                close(context, "the request body passed this server's limit of \(limits.maxRequestBodySize) bytes")
                return
            }
        case .end:
            bodyDeadline?.cancel()
            bodyDeadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { limiter.setBusy(id, false) }
        context.write(data, promise: promise)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            stallDeadline?.cancel()
            stallDeadline = nil
        } else if stallDeadline == nil {
            stallDeadline = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(bounded: limits.writeStallTimeout)) { [self] in
                close(context, "the client read none of the response for \(limits.writeStallTimeout)")
            }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelDeadlines()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelDeadlines()
    }

    /// Answers 413 with the reason, then closes: the request never reaches a route.
    private func refuse(_ context: ChannelHandlerContext, _ reason: String) {
        refused = true
        logger.notice("request refused", metadata: ["client": "\(context.channel.remoteAddress?.description ?? "local")", "reason": "\(reason)"])
        let body = ByteBuffer(string: reason + "\n")
        let head = HTTPResponse(
            status: .contentTooLarge,
            headerFields: [.contentType: "text/plain; charset=utf-8", .contentLength: "\(body.readableBytes)", .connection: "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    private func close(_ context: ChannelHandlerContext, _ reason: String) {
        logger.notice("connection closed", metadata: ["client": "\(context.channel.remoteAddress?.description ?? "local")", "reason": "\(reason)"])
        cancelDeadlines()
        context.close(promise: nil)
    }

    private func cancelDeadlines() {
        bodyDeadline?.cancel()
        bodyDeadline = nil
        stallDeadline?.cancel()
        stallDeadline = nil
    }
}
