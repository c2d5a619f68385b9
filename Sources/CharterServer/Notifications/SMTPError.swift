/// Why a conversation with the SMTP server, or one recipient of it, failed.
///
/// The description is one line for logs and `email_deliveries.last_error`; it never contains credentials.
enum SMTPError: Error, Hashable, CustomStringConvertible {
    /// The server answered `reply` to `step` (`greeting`, `EHLO`, `HELO`, `STARTTLS`, `AUTH`, `MAIL FROM`,
    /// `RCPT TO`, `DATA` or `the message`) where another answer was needed.
    case rejected(step: String, reply: SMTPReply)
    /// No connection could be made.
    case unreachable(String)
    /// The server did not answer `step` within the timeout.
    case timedOut(step: String)
    /// The server closed the connection while `step` waited for an answer.
    case closed(step: String)
    /// The server sent something that is not an SMTP reply.
    case malformedReply(String)
    /// The TLS handshake or connection failed (certificate not trusted, wrong host name, …).
    case tls(String)
    /// `smtp.tls` is `starttls` but the server does not offer `STARTTLS`.
    case startTLSNotOffered
    /// The server sent more after its `STARTTLS` answer, before TLS began (a response injection).
    case dataAfterStartTLS
    /// Credentials are configured but the server offers neither `AUTH PLAIN` nor `AUTH LOGIN`.
    case noSupportedAuthentication(offered: [String])
    /// An address cannot be sent in an SMTP envelope (not printable ASCII, or with `<`, `>` or spaces).
    case invalidAddress(String)

    /// The server's reply code, when the server answered.
    var replyCode: Int? {
        if case .rejected(_, let reply) = self { reply.code } else { nil }
    }

    /// Whether trying again cannot help: a 5xx reply or an address that cannot be sent.
    var isPermanent: Bool {
        switch self {
        case .rejected(_, let reply): reply.isPermanentFailure
        case .invalidAddress: true
        default: false
        }
    }

    var description: String {
        switch self {
        case .rejected(let step, let reply): "the SMTP server answered \(step) with \(reply.code) \(reply.text)"
        case .unreachable(let reason): "cannot connect to the SMTP server: \(reason)"
        case .timedOut(let step): "the SMTP server did not answer \(step) in time"
        case .closed(let step): "the SMTP server closed the connection during \(step)"
        case .malformedReply(let problem): "the SMTP server's reply is malformed: \(problem)"
        case .tls(let reason): "TLS with the SMTP server failed: \(reason)"
        case .startTLSNotOffered: "the SMTP server does not offer STARTTLS (smtp.tls is starttls)"
        case .dataAfterStartTLS: "the SMTP server sent data after its STARTTLS answer, before TLS began"
        case .noSupportedAuthentication(let offered):
            "the SMTP server offers no AUTH mechanism Charter supports (PLAIN, LOGIN); it offers "
                + (offered.isEmpty ? "none" : offered.joined(separator: ", "))
        case .invalidAddress(let address): "'\(address)' cannot be sent in an SMTP envelope"
        }
    }
}
