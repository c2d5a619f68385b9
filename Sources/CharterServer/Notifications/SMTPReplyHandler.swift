import NIOCore
import NIOSSL

/// The SMTP client's pipeline handler: turns the server's bytes into ``SMTPReply`` values, and switches the
/// connection to TLS when the server accepts `STARTTLS`.
///
/// The client sends ``StartTLS`` as an outbound user event just before `STARTTLS`. When the next reply is 220,
/// this handler puts a TLS handler first in the pipeline while it reads that reply, on the event loop, so no
/// later byte from the network is read in the clear. Bytes the server sent after the 220 and before TLS (a
/// response injection, the client side of CVE-2011-0411) fail the connection with
/// ``SMTPError/dataAfterStartTLS``.
final class SMTPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = SMTPReply
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Arms the switch to TLS for the reply to the `STARTTLS` command that follows.
    struct StartTLS: Sendable {
        var context: NIOSSLContext
        /// The name to verify the certificate against and send as SNI; `nil` for an IP address, which is then
        /// verified against the certificate's IP addresses.
        var serverHostname: String?
    }

    private var parser = SMTPReplyParser()
    private var startTLS: StartTLS?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        parser.append(unwrapInboundIn(data).readableBytesView)
        do {
            while let reply = try parser.next() {
                var switchedToTLS = false
                if let startTLS {
                    self.startTLS = nil
                    if reply.code == 220 {
                        guard !parser.hasUnreadBytes else { throw SMTPError.dataAfterStartTLS }
                        let tls = try NIOSSLClientHandler(
                            context: startTLS.context, serverHostname: startTLS.serverHostname
                        )
                        try context.pipeline.syncOperations.addHandler(tls, position: .first)
                        switchedToTLS = true
                    }
                }
                context.fireChannelRead(wrapInboundOut(reply))
                if switchedToTLS {
                    // The read-complete of these bytes now passes through the TLS handler, which does not forward
                    // it for bytes it never saw; without one, the reply would wait in the async channel's buffer.
                    context.fireChannelReadComplete()
                }
            }
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let request = event as? StartTLS else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        startTLS = request
        promise?.succeed()
    }
}
