import NIOCore
import NIOEmbedded
import NIOSSL
import Testing

@testable import CharterServer

/// The pure parts of the SMTP client: reply parsing, EHLO extensions, dot-stuffing, and the switch to TLS after
/// `STARTTLS`, without a network.
@Suite("SMTP protocol")
struct SMTPProtocolTests {
    static func replies(_ text: String) throws -> [SMTPReply] {
        var parser = SMTPReplyParser()
        parser.append(Array(text.utf8))
        var replies: [SMTPReply] = []
        while let reply = try parser.next() { replies.append(reply) }
        return replies
    }

    @Test("single-line, multi-line, bare-code and LF-only replies parse; two replies in one read are two")
    func parsesReplies() throws {
        #expect(try Self.replies("220 mail.example.com ESMTP ready\r\n") == [SMTPReply(code: 220, lines: ["mail.example.com ESMTP ready"])])
        #expect(
            try Self.replies("250-mail.example.com\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n")
                == [SMTPReply(code: 250, lines: ["mail.example.com", "STARTTLS", "AUTH PLAIN LOGIN"])]
        )
        #expect(try Self.replies("354\r\n") == [SMTPReply(code: 354, lines: [""])])
        #expect(try Self.replies("250 ok\n") == [SMTPReply(code: 250, lines: ["ok"])])
        #expect(try Self.replies("250 a\r\n451 4.3.0 later\r\n").map(\.code) == [250, 451])
        #expect(try Self.replies("250-partial\r\n250 rest").isEmpty)
    }

    @Test("a reply split across reads is returned once it is complete")
    func incremental() throws {
        var parser = SMTPReplyParser()
        var replies: [SMTPReply] = []
        for byte in "250-first\r\n250 second\r\n".utf8 {
            parser.append([byte])
            if let reply = try parser.next() { replies.append(reply) }
        }
        #expect(replies == [SMTPReply(code: 250, lines: ["first", "second"])])
        #expect(!parser.hasUnreadBytes)
        parser.append(Array("250 ok\r\n220".utf8))
        _ = try parser.next()
        #expect(parser.hasUnreadBytes)
    }

    @Test(
        "malformed replies are errors",
        arguments: [
            "hello there\r\n", "25\r\n", "650 no such class\r\n", "250-one\r\n251 two\r\n", "250_bad separator\r\n",
            String(repeating: "x", count: SMTPReplyParser.maximumLineLength + 1),
        ]
    )
    func malformed(text: String) {
        #expect(throws: SMTPError.self) { try Self.replies(text) }
    }

    @Test("reply classes: 2xx succeeds, 5xx is permanent, 4xx is not")
    func classes() {
        #expect(SMTPReply(code: 250, lines: []).isSuccess)
        #expect(SMTPReply(code: 550, lines: []).isPermanentFailure)
        #expect(!SMTPReply(code: 451, lines: []).isPermanentFailure)
        #expect(SMTPError.rejected(step: "RCPT TO", reply: SMTPReply(code: 550, lines: ["no"])).isPermanent)
        #expect(!SMTPError.rejected(step: "DATA", reply: SMTPReply(code: 451, lines: ["later"])).isPermanent)
        #expect(!SMTPError.timedOut(step: "DATA").isPermanent)
        #expect(SMTPError.rejected(step: "AUTH", reply: SMTPReply(code: 535, lines: ["5.7.8 bad"])).replyCode == 535)
        #expect(
            SMTPError.rejected(step: "AUTH", reply: SMTPReply(code: 535, lines: ["5.7.8", "bad credentials"])).description
                == "the SMTP server answered AUTH with 535 5.7.8 bad credentials"
        )
    }

    @Test("EHLO extensions: keywords upper-cased, AUTH mechanisms from the AUTH and old AUTH= lines")
    func extensions() {
        let offered = SMTPExtensions(
            ehlo: SMTPReply(code: 250, lines: ["mail.example.com greets you", "starttls", "AUTH PLAIN LOGIN", "AUTH=LOGIN", "SIZE 1000"])
        )
        #expect(offered.keywords == ["STARTTLS", "AUTH", "SIZE"])
        #expect(offered.authenticationMechanisms == ["PLAIN", "LOGIN"])
        #expect(SMTPExtensions(ehlo: SMTPReply(code: 250, lines: ["only a greeting"])).keywords.isEmpty)
    }

    @Test(
        "DATA: leading dots are doubled, lines end in CRLF, the message ends with a lone dot",
        arguments: [
            ("Subject: x\r\n\r\nbody\r\n", "Subject: x\r\n\r\nbody\r\n.\r\n"),
            (".\r\n..two\r\n. three", "..\r\n...two\r\n.. three\r\n.\r\n"),
            ("no final newline", "no final newline\r\n.\r\n"),
            ("a\nb\n", "a\r\nb\r\n.\r\n"),
            ("middle.\r\n.", "middle.\r\n..\r\n.\r\n"),
        ]
    )
    func dotStuffing(message: String, expected: String) {
        #expect(SMTPClient.dotStuffed(message) == expected)
    }

    @Test("envelope addresses: printable ASCII, one local part and domain, no brackets or spaces")
    func envelopeAddresses() {
        #expect(Mailbox.isEnvelopeAddress("it@example.com"))
        #expect(Mailbox.isEnvelopeAddress("first.last+tag@sub.example.com"))
        for bad in ["it@", "@example.com", "it example@x.com", "it@exa<mple.com", "ütf@example.com", "it@x.com\r\nRCPT", "plain"] {
            #expect(!Mailbox.isEnvelopeAddress(bad), "\(bad)")
        }
    }

    @Test("mailboxes parse as an address or Name <address>")
    func mailboxes() {
        #expect(Mailbox(parsing: "approvals@example.com") == Mailbox(address: "approvals@example.com"))
        #expect(
            Mailbox(parsing: " Charter Approvals <approvals@example.com> ")
                == Mailbox(name: "Charter Approvals", address: "approvals@example.com")
        )
        #expect(Mailbox(parsing: "\"IT, Help\" <it@example.com>") == Mailbox(name: "IT, Help", address: "it@example.com"))
        #expect(Mailbox(parsing: "Charter <not an address>") == nil)
        #expect(Mailbox(parsing: "approvals@example.com>") == nil)
        #expect(Mailbox(name: nil, address: "a@mail.example.com").domain == "mail.example.com")
    }

    // MARK: - STARTTLS

    static func armedChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: SMTPReplyHandler())
        let context = try NIOSSLContext(configuration: .makeClientConfiguration())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 25)).wait()
        try channel.pipeline.triggerUserOutboundEvent(SMTPReplyHandler.StartTLS(context: context, serverHostname: "localhost"))
            .wait()
        return channel
    }

    @Test("the 220 answer to STARTTLS puts TLS first in the pipeline before anything else is read")
    func switchesToTLS() throws {
        let channel = try Self.armedChannel()
        try channel.writeInbound(ByteBuffer(string: "220 2.0.0 go ahead\r\n"))
        #expect(try channel.readInbound(as: SMTPReply.self)?.code == 220)
        _ = try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
        // The handshake started: the ClientHello is on its way out.
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil)
        _ = try? channel.finish()
    }

    @Test("bytes after the 220 answer to STARTTLS (a response injection) fail the connection; a refusal does not switch")
    func refusesInjection() throws {
        let injected = try Self.armedChannel()
        #expect(throws: SMTPError.dataAfterStartTLS) {
            try injected.writeInbound(ByteBuffer(string: "220 go ahead\r\n250-injected\r\n"))
        }
        #expect(!injected.isActive)

        let refused = try Self.armedChannel()
        try refused.writeInbound(ByteBuffer(string: "454 4.7.0 TLS not available\r\n"))
        #expect(try refused.readInbound(as: SMTPReply.self)?.code == 454)
        #expect(throws: (any Error).self) { try refused.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self) }
        _ = try? refused.finish()
    }
}
