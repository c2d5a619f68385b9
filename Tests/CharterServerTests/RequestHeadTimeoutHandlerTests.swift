import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import CharterServer

/// The request-head timeout on an embedded channel, its clock advanced by hand.
@Suite("Request-head timeout")
struct RequestHeadTimeoutHandlerTests {
    /// What happens on the connection, in order.
    enum Step: Sendable, CustomStringConvertible {
        case wait(seconds: Int64)
        case readHead
        case readEnd
        case writeResponse(closing: Bool)
        case writeHead
        case expectOpen(Bool)

        var description: String {
            switch self {
            case .wait(let seconds): "wait \(seconds) s"
            case .readHead: "request head"
            case .readEnd: "request end"
            case .writeResponse(let closing): closing ? "response with Connection: close" : "response"
            case .writeHead: "response head only"
            case .expectOpen(let open): open ? "open" : "closed"
            }
        }
    }

    @Test(
        "a connection is closed when no complete request head arrives in time, never while a response is produced",
        arguments: [
            ("idle or half-sent request", [Step.wait(seconds: 9), .expectOpen(true), .wait(seconds: 2), .expectOpen(false)]),
            (
                "an event stream or long poll outlives the timeout",
                [.wait(seconds: 9), .readHead, .readEnd, .writeHead, .wait(seconds: 3600), .expectOpen(true)]
            ),
            (
                "after a response the next head must come in time",
                [
                    .readHead, .readEnd, .wait(seconds: 30), .writeResponse(closing: false), .wait(seconds: 9),
                    .expectOpen(true), .readHead, .readEnd, .wait(seconds: 30), .expectOpen(true),
                    .writeResponse(closing: false), .wait(seconds: 11), .expectOpen(false),
                ]
            ),
            (
                "a response with Connection: close closes once written",
                [.readHead, .writeResponse(closing: true), .expectOpen(false)]
            ),
        ]
    )
    func steps(name: String, steps: [Step]) async throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RequestHeadTimeoutHandler(timeout: .seconds(10)))
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).get()
        for step in steps {
            switch step {
            case .wait(let seconds):
                channel.embeddedEventLoop.advanceTime(by: .seconds(seconds))
            case .readHead:
                try channel.writeInbound(HTTPRequestPart.head(HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/")))
            case .readEnd:
                try channel.writeInbound(HTTPRequestPart.end(nil))
            case .writeHead:
                try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            case .writeResponse(let closing):
                var response = HTTPResponse(status: .ok)
                if closing { response.headerFields[.connection] = "close" }
                try channel.writeOutbound(HTTPResponsePart.head(response))
                try channel.writeOutbound(HTTPResponsePart.end(nil))
            case .expectOpen(let open):
                #expect(channel.isActive == open, "\(name): \(step)")
            }
        }
        if channel.isActive { _ = try? channel.finish() }
    }
}
