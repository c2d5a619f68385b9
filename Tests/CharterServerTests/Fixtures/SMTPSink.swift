import Foundation
import Testing

/// A local SMTP server for the email tests: `Fixtures/smtp_sink.py` on aiosmtpd, run with the interpreter named
/// by `CHARTER_PYTHON` (scripts/test installs aiosmtpd into its venv and sets it).
///
/// The suites that need it are disabled, with that reason, when `CHARTER_PYTHON` is not set; when it is set but
/// the sink cannot start (aiosmtpd missing), the test fails with the script's error and a hint.
final class SMTPSink: Sendable {
    /// One message the sink accepted, as the script recorded it.
    struct Message: Decodable, Sendable {
        var mailFrom: String
        var rcptTos: [String]
        var tls: Bool
        var authUser: String?
        /// Decoded header values (encoded-words resolved) by name.
        var headers: [String: String]
        var contentType: String
        var charset: String?
        var transferEncoding: String?
        /// The decoded body, with LF line ends.
        var body: String
        /// The message as received, CRLF line ends.
        var raw: String
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static var interpreter: String? { TestEnvironment.python }
    static var isAvailable: Bool { interpreter != nil }
    static let unavailable: Comment = "needs CHARTER_PYTHON with aiosmtpd 1.4 (scripts/test installs it and sets it)"

    private let server: ScriptServer
    var port: Int { server.port }
    var directory: URL { server.directory }
    /// The sink's self-signed certificate (for 127.0.0.1 and localhost), to trust as `smtp.ca_file`.
    var certificate: String { server.directory.appendingPathComponent("cert.pem").path }

    private init(server: ScriptServer) {
        self.server = server
    }

    /// Starts a sink and waits until it listens.
    ///
    /// - Parameters:
    ///   - tls: `starttls` (offered and required), `tls` (implicit) or `none`.
    ///   - credentials: When given, AUTH is required and only these are accepted.
    ///   - mechanisms: The AUTH mechanisms offered.
    ///   - failingData: How many DATA commands are answered 451 first.
    ///   - rejecting: Addresses answered 550 at RCPT TO.
    static func start(
        tls: String = "starttls", credentials: (user: String, password: String)? = nil, mechanisms: String = "PLAIN,LOGIN",
        failingData: Int = 0, rejecting: [String] = []
    ) async throws -> SMTPSink {
        guard let interpreter else { throw Failure(description: "CHARTER_PYTHON is not set: the SMTP sink needs it") }
        let script = try #require(
            Bundle.module.url(forResource: "smtp_sink", withExtension: "py"), "smtp_sink.py is not in the test bundle"
        )
        let server = try await ScriptServer.start(
            interpreter, prefix: "charter-smtp",
            arguments: { directory in
                var arguments = [
                    script.path, "--out", directory.path, "--cert-dir", directory.path, "--tls", tls, "--mechanisms",
                    mechanisms, "--fail-data", String(failingData),
                ]
                if let credentials { arguments += ["--user", credentials.user, "--password", credentials.password] }
                for address in rejecting { arguments += ["--reject", address] }
                return arguments
            },
            failure: {
                "the SMTP sink did not start: \($0)"
                    + "hint: \(interpreter) -m pip install aiosmtpd==1.4.6, and make sure openssl is installed"
            }
        )
        return SMTPSink(server: server)
    }

    /// The messages received so far, oldest first.
    func messages() throws -> [Message] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".json") }.sorted()
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try files.map { file in
            var message = try decoder.decode(Message.self, from: Data(contentsOf: directory.appendingPathComponent(file)))
            message.body = message.body.replacingOccurrences(of: "\r\n", with: "\n")
            return message
        }
    }

    /// Waits (a hang is bounded at 30 s) for a message that satisfies `predicate`.
    func wait(for predicate: (Message) -> Bool) async throws -> Message {
        for _ in 0..<300 {
            if let message = try messages().first(where: predicate) { return message }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "no matching message reached the SMTP sink within 30 s")
    }
}
