import Foundation
import Glibc
import NIOCore
import NIOPosix
import Testing

@testable import CharterServer

/// The SMTP client against a real server (aiosmtpd, on loopback): each TLS mode with AUTH, per-recipient
/// outcomes, and every way a session fails, each with the error that says why.
@Suite("SMTP client", .enabled(if: SMTPSink.isAvailable, SMTPSink.unavailable))
struct SMTPClientTests {
    static let credentials = (user: "charter", password: "correct horse")

    static func client(
        _ sink: SMTPSink?, security: SMTPConfiguration.Security = .starttls, port: Int? = nil, trustsSink: Bool = true,
        password: String = credentials.password
    ) throws -> SMTPClient {
        var configuration = SMTPConfiguration(
            host: "127.0.0.1", security: security, port: port ?? sink?.port, from: Mailbox(address: "charter@example.test")
        )
        configuration.caFile = trustsSink ? sink?.certificate : nil
        configuration.credentials = .init(username: credentials.user, password: password)
        configuration.timeoutSeconds = 5
        configuration.heloName = "charter.test"
        return try SMTPClient(configuration: configuration)
    }

    static func message(to recipients: [String]) throws -> String {
        try EmailMessage(
            from: Mailbox(name: "Charter", address: "charter@example.test"), to: recipients, subject: "Grüße aus dem Test",
            body: ".a line with a leading dot\nand ünïcödé\n", date: Date(), messageID: "\(UUID())@example.test"
        ).rendered()
    }

    @Test(
        "each TLS mode delivers with AUTH: STARTTLS with PLAIN, implicit TLS with LOGIN only, none on loopback",
        arguments: [
            (SMTPConfiguration.Security.starttls, "PLAIN,LOGIN", true),
            (.tls, "LOGIN", true),
            (.none, "PLAIN", false),
        ]
    )
    func delivers(security: SMTPConfiguration.Security, mechanisms: String, isEncrypted: Bool) async throws {
        let sink = try await SMTPSink.start(tls: security.rawValue, credentials: Self.credentials, mechanisms: mechanisms)
        let recipients = ["it@example.test", "desk@example.test"]
        let outcomes = try await Self.client(sink, security: security).send(
            try Self.message(to: recipients), from: "charter@example.test", to: recipients
        )
        #expect(outcomes.count == 2)
        for recipient in recipients {
            guard case .accepted(let reply) = outcomes[recipient] else {
                Issue.record("\(recipient): \(String(describing: outcomes[recipient]))")
                continue
            }
            #expect(reply.code == 250)
        }
        let received = try await sink.wait { _ in true }
        #expect(received.rcptTos == recipients)
        #expect(received.mailFrom == "charter@example.test")
        #expect(received.tls == isEncrypted)
        #expect(received.authUser == Self.credentials.user)
        #expect(received.headers["Subject"] == "Grüße aus dem Test")
        #expect(received.body == ".a line with a leading dot\nand ünïcödé\n")
    }

    @Test("a recipient refused with 550 fails alone, for good; a 451 after DATA fails every recipient, for now")
    func perRecipient() async throws {
        let sink = try await SMTPSink.start(credentials: Self.credentials, failingData: 1, rejecting: ["gone@example.test"])
        let client = try Self.client(sink)
        let recipients = ["it@example.test", "gone@example.test"]
        let first = try await client.send(try Self.message(to: recipients), from: "charter@example.test", to: recipients)
        guard case .refused(let later) = first["it@example.test"], case .refused(let gone) = first["gone@example.test"] else {
            Issue.record("\(first)")
            return
        }
        #expect(later.replyCode == 451 && !later.isPermanent)
        #expect(gone.replyCode == 550 && gone.isPermanent)
        #expect(gone.description.contains("no such user"))

        let second = try await client.send(try Self.message(to: recipients), from: "charter@example.test", to: recipients)
        #expect(second["it@example.test"].map { if case .accepted = $0 { true } else { false } } == true)
        #expect(second["gone@example.test"] == first["gone@example.test"])
        #expect(try await sink.wait { _ in true }.rcptTos == ["it@example.test"])
    }

    @Test("an address that cannot go into an envelope is refused without asking the server")
    func invalidAddress() async throws {
        let outcomes = try await Self.client(nil, port: 1).send("x", from: "charter@example.test", to: ["ünï@example.test"])
        #expect(outcomes["ünï@example.test"] == .refused(.invalidAddress("ünï@example.test")))
    }

    @Test("an untrusted certificate, a missing STARTTLS, a wrong password and no server each fail with their reason")
    func failures() async throws {
        let tls = try await SMTPSink.start(credentials: Self.credentials)
        let message = try Self.message(to: ["it@example.test"])
        await #expect {
            try await Self.client(tls, trustsSink: false).send(message, from: "charter@example.test", to: ["it@example.test"])
        } throws: { error in
            guard case .tls(let reason) = error as? SMTPError else { return false }
            return !reason.isEmpty
        }
        await #expect {
            try await Self.client(tls, password: "wrong").send(message, from: "charter@example.test", to: ["it@example.test"])
        } throws: { ($0 as? SMTPError)?.replyCode == 535 }

        let plain = try await SMTPSink.start(tls: "none")
        await #expect(throws: SMTPError.startTLSNotOffered) {
            try await Self.client(plain, trustsSink: false).send(message, from: "charter@example.test", to: ["it@example.test"])
        }

        let closed = try RefusingPort()
        await #expect {
            try await Self.client(nil, port: closed.port).send(message, from: "charter@example.test", to: ["it@example.test"])
        } throws: { error in
            guard case .unreachable = error as? SMTPError else { return false }
            return true
        }
    }

    @Test("a server that accepts the connection but never answers times out at the greeting")
    func timeout() async throws {
        try await Self.silentServer { port, _ in
            var configuration = SMTPConfiguration(host: "127.0.0.1", port: port, from: Mailbox(address: "charter@example.test"))
            configuration.timeoutSeconds = 1
            let started = ContinuousClock.now
            await #expect(throws: SMTPError.timedOut(step: "greeting")) {
                try await SMTPClient(configuration: configuration).send(
                    "x", from: "charter@example.test", to: ["it@example.test"]
                )
            }
            // The configured 1 s, not the 30 s default; the margin is for a loaded test run.
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    /// A loopback port that refuses connections: bound by a socket that never listens, so no other test's server
    /// can take it while it is in use (a port closed after binding can be bound again by anyone at once).
    final class RefusingPort: Sendable {
        let port: Int
        private let descriptor: Int32

        init() throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            try #require(descriptor >= 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let descriptor = descriptor
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
            }
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard bound == 0, named == 0 else {
                Glibc.close(descriptor)
                throw POSIXError(.EADDRNOTAVAIL)
            }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { Glibc.close(descriptor) }
    }

    /// Runs `body` with a loopback TCP server that accepts connections and never sends a byte.
    @discardableResult
    static func silentServer<Result: Sendable>(_ body: (Int, any Channel) async throws -> Result) async throws -> Result {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        do {
            let result = try await body(port, server)
            try? await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }
}
