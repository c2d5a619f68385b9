import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Closes a connection that has not sent a complete request head within a timeout of opening or of its previous
/// response ending, and one whose response said `Connection: close` once that response is written.
///
/// Slow clients (a request line or headers trickled in, or never finished) hold a connection and its buffers
/// for at most the timeout; while a request is being answered (a long poll, an event stream) nothing is timed
/// here, and Hummingbird's idle timeout covers a stalled body. `Connection: close` is how ``ProblemMiddleware``
/// refuses an unread body: closing spares reading and discarding it to keep the connection alive.
final class RequestHeadTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    /// Request heads read whose response has not ended yet.
    private var requestsOpen = 0
    private var closesAfterResponse = false
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) {
            requestsOpen += 1
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            if head.headerFields[.connection]?.lowercased() == "close" { closesAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            requestsOpen = max(0, requestsOpen - 1)
            if closesAfterResponse {
                context.writeAndFlush(data, promise: promise)
                context.close(promise: nil)
                return
            }
            if requestsOpen == 0 { arm(context) }
            context.write(data, promise: promise)
        }
    }

    private func arm(_ context: ChannelHandlerContext) {
        guard timer == nil, requestsOpen == 0 else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            self.timer = nil
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
