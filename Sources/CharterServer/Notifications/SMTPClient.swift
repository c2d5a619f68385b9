import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A small SMTP client (RFC 5321) for Charter's notifications: one session per message.
///
/// The session: greeting, `EHLO` (`HELO` when the server does not know `EHLO`), `STARTTLS` and `EHLO` again
/// (mode `starttls`; a server that does not offer it fails the session), `AUTH PLAIN` or `AUTH LOGIN` when
/// credentials are configured (only ever on an encrypted connection, or in mode `none`, which configuration
/// allows on loopback only), `MAIL FROM`, `RCPT TO` per recipient, `DATA` with the dot-stuffed message, `QUIT`.
/// Every step has the configured timeout. TLS verifies the server's certificate and name (TLS 1.2 or later).
struct SMTPClient: Sendable {
    /// What became of one recipient of a message.
    enum Outcome: Hashable, Sendable {
        /// The server took the message for this recipient, with this reply (often naming its queue id).
        case accepted(SMTPReply)
        /// The server refused this recipient (at `RCPT TO`) or the message (at `DATA` or after it), or the
        /// address cannot be sent.
        case refused(SMTPError)
    }

    let configuration: SMTPConfiguration
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup

    /// - Throws: When the TLS context cannot be made (an unreadable `smtp.ca_file`).
    init(configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.configuration = configuration
        self.group = group
        guard configuration.security != .none else {
            tls = nil
            return
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.minimumTLSVersion = .tlsv12
        tlsConfiguration.certificateVerification = .fullVerification
        if let caFile = configuration.caFile { tlsConfiguration.trustRoots = .file(caFile) }
        tls = try NIOSSLContext(configuration: tlsConfiguration)
    }

    /// Sends `message` from `sender` to every recipient in one session.
    ///
    /// - Parameters:
    ///   - message: The rendered message (``EmailMessage/rendered()``), CRLF line ends.
    ///   - sender: The envelope sender (`MAIL FROM`).
    ///   - recipients: The envelope recipients (`RCPT TO`), distinct.
    /// - Returns: The outcome for each recipient.
    /// - Throws: ``SMTPError`` when the session broke off before the server took the message for anyone
    ///   (connection, TLS, greeting, `EHLO`, `STARTTLS`, `AUTH`, `MAIL FROM`, or the connection lost during `DATA`).
    func send(
        _ message: String, from sender: String, to recipients: [String]
    ) async throws(SMTPError) -> [String: Outcome] {
        guard Mailbox.isEnvelopeAddress(sender) else { throw .invalidAddress(sender) }
        var outcomes: [String: Outcome] = [:]
        let sendable = recipients.filter { recipient in
            guard Mailbox.isEnvelopeAddress(recipient) else {
                outcomes[recipient] = .refused(.invalidAddress(recipient))
                return false
            }
            return true
        }
        guard !sendable.isEmpty else { return outcomes }
        do {
            let channel = try await connect()
            try await channel.executeThenClose { inbound, outbound in
                var connection = SMTPConnection(
                    channel: channel.channel, replies: inbound.makeAsyncIterator(), outbound: outbound,
                    timeout: .seconds(Int64(configuration.timeoutSeconds))
                )
                try await converse(over: &connection, message: message, from: sender, to: sendable, outcomes: &outcomes)
            }
        } catch {
            throw SMTPError(error, during: "the session")
        }
        return outcomes
    }

    // MARK: - The session

    private func connect() async throws(SMTPError) -> NIOAsyncChannel<SMTPReply, ByteBuffer> {
        let implicitTLS = configuration.security == .tls ? tls : nil
        let serverHostname = serverHostname
        do {
            return try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(Int64(configuration.timeoutSeconds)))
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let implicitTLS {
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: implicitTLS, serverHostname: serverHostname)
                            )
                        }
                        try channel.pipeline.syncOperations.addHandler(SMTPReplyHandler())
                        return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw .unreachable("\(configuration.host):\(configuration.port): \(error)")
        }
    }

    /// The name the certificate must carry, also sent as SNI; `nil` for an IP address, which NIOSSL then checks
    /// against the certificate's IP addresses.
    private var serverHostname: String? {
        (try? SocketAddress(ipAddress: configuration.host, port: 0)) == nil ? configuration.host : nil
    }

    private func converse(
        over connection: inout SMTPConnection, message: String, from sender: String, to recipients: [String],
        outcomes: inout [String: Outcome]
    ) async throws {
        try Self.require(220, in: await connection.reply(to: "greeting"), step: "greeting")
        var extensions = try await hello(over: &connection)
        if configuration.security == .starttls {
            guard extensions.keywords.contains("STARTTLS"), let tls else { throw SMTPError.startTLSNotOffered }
            try await connection.channel.triggerUserOutboundEvent(
                SMTPReplyHandler.StartTLS(context: tls, serverHostname: serverHostname)
            ).get()
            try Self.require(220, in: await connection.command("STARTTLS", step: "STARTTLS"), step: "STARTTLS")
            extensions = try await hello(over: &connection)
        }
        if let credentials = configuration.credentials {
            try await authenticate(over: &connection, as: credentials, offered: extensions.authenticationMechanisms)
        }
        try Self.requireSuccess(await connection.command("MAIL FROM:<\(sender)>", step: "MAIL FROM"), step: "MAIL FROM")
        var accepted: [String] = []
        for recipient in recipients {
            let reply = try await connection.command("RCPT TO:<\(recipient)>", step: "RCPT TO")
            if reply.isSuccess {
                accepted.append(recipient)
            } else {
                outcomes[recipient] = .refused(.rejected(step: "RCPT TO", reply: reply))
            }
        }
        if !accepted.isEmpty {
            let outcome: Outcome
            let data = try await connection.command("DATA", step: "DATA")
            if data.code == 354 {
                try await connection.write(ByteBuffer(string: Self.dotStuffed(message)), step: "the message")
                let reply = try await connection.reply(to: "the message")
                outcome = reply.isSuccess ? .accepted(reply) : .refused(.rejected(step: "the message", reply: reply))
            } else {
                outcome = .refused(.rejected(step: "DATA", reply: data))
            }
            for recipient in accepted { outcomes[recipient] = outcome }
        }
        // The outcome is known; a server that does not answer QUIT changes nothing.
        _ = try? await connection.command("QUIT", step: "QUIT")
    }

    /// `EHLO`, or `HELO` when the server does not know `EHLO` (then without extensions).
    private func hello(over connection: inout SMTPConnection) async throws -> SMTPExtensions {
        let reply = try await connection.command("EHLO \(configuration.heloName)", step: "EHLO")
        if reply.isSuccess { return SMTPExtensions(ehlo: reply) }
        guard reply.code == 500 || reply.code == 502 else { throw SMTPError.rejected(step: "EHLO", reply: reply) }
        try Self.requireSuccess(await connection.command("HELO \(configuration.heloName)", step: "HELO"), step: "HELO")
        return SMTPExtensions()
    }

    /// `AUTH PLAIN` with the initial response, or `AUTH LOGIN` when the server offers only that (RFC 4954).
    private func authenticate(
        over connection: inout SMTPConnection, as credentials: SMTPConfiguration.Credentials, offered: [String]
    ) async throws {
        let base64 = { (text: String) in Data(text.utf8).base64EncodedString() }
        if offered.contains("PLAIN") {
            let response = base64("\0\(credentials.username)\0\(credentials.password)")
            try Self.require(235, in: await connection.command("AUTH PLAIN \(response)", step: "AUTH"), step: "AUTH")
        } else if offered.contains("LOGIN") {
            try Self.require(334, in: await connection.command("AUTH LOGIN", step: "AUTH"), step: "AUTH")
            for (secret, code) in [(credentials.username, 334), (credentials.password, 235)] {
                try Self.require(code, in: await connection.command(base64(secret), step: "AUTH"), step: "AUTH")
            }
        } else {
            throw SMTPError.noSupportedAuthentication(offered: offered)
        }
    }

    private static func require(_ code: Int, in reply: SMTPReply, step: String) throws(SMTPError) {
        guard reply.code == code else { throw .rejected(step: step, reply: reply) }
    }

    private static func requireSuccess(_ reply: SMTPReply, step: String) throws(SMTPError) {
        guard reply.isSuccess else { throw .rejected(step: step, reply: reply) }
    }

    // MARK: - Data

    /// The message as `DATA` sends it (RFC 5321 §4.5.2): CRLF line ends, a `.` added before every line that
    /// starts with one, and the closing `.` line.
    static func dotStuffed(_ message: String) -> String {
        var lines = message.replacingOccurrences(of: "\r\n", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n") + "\r\n.\r\n"
    }
}

/// What a server's `EHLO` answer offers (RFC 5321 §4.1.1.1): one keyword per line after the first.
struct SMTPExtensions: Hashable, Sendable {
    /// The keywords, upper-cased (`STARTTLS`, `AUTH`, `SIZE`, …).
    var keywords: Set<String> = []
    /// The mechanisms of the `AUTH` line (or of the old `AUTH=` form), upper-cased.
    var authenticationMechanisms: [String] = []

    init() {}

    init(ehlo reply: SMTPReply) {
        for line in reply.lines.dropFirst() {
            let words = line.uppercased().split(whereSeparator: { $0 == " " || $0 == "=" }).map(String.init)
            guard let keyword = words.first else { continue }
            keywords.insert(keyword)
            if keyword == "AUTH" {
                authenticationMechanisms += words.dropFirst().filter { !authenticationMechanisms.contains($0) }
            }
        }
    }
}
