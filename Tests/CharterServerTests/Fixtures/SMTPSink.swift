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

    let port: Int
    /// The sink's self-signed certificate (for 127.0.0.1 and localhost), to trust as `smtp.ca_file`.
    let certificate: String
    let directory: URL
    private let process: Process

    private init(port: Int, directory: URL, process: Process) {
        self.port = port
        self.directory = directory
        self.certificate = directory.appendingPathComponent("cert.pem").path
        self.process = process
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("charter-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var arguments = [
            script.path, "--out", directory.path, "--cert-dir", directory.path, "--tls", tls, "--mechanisms", mechanisms,
            "--fail-data", String(failingData),
        ]
        if let credentials { arguments += ["--user", credentials.user, "--password", credentials.password] }
        for address in rejecting { arguments += ["--reject", address] }
        let errors = directory.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: interpreter)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        // Starting takes well under a second; 30 s only bounds a hang.
        let portFile = directory.appendingPathComponent("port")
        for _ in 0..<300 where process.isRunning {
            if let text = try? String(contentsOf: portFile, encoding: .utf8), let port = Int(text) {
                return SMTPSink(port: port, directory: directory, process: process)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        if process.isRunning { process.terminate() }
        let output = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        throw Failure(
            description: "the SMTP sink did not start: \(output)"
                + "hint: \(interpreter) -m pip install aiosmtpd==1.4.6, and make sure openssl is installed"
        )
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

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
