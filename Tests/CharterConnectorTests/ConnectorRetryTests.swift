import AsyncHTTPClient
import CharterAgent
import CharterConnector
import CharterDirectory
import CharterTestSupport
import Foundation
import NIOCore
import Testing

@Suite("Connector retries and refusals")
struct ConnectorRetryTests {
    static func status(_ code: Int, _ problemCode: String? = nil) -> AgentError {
        .status(code, problem: Problem(status: code, code: problemCode), retryAfter: nil)
    }

    /// Which failures are retried with the same request: no answer, `5xx`, `429`; never a refusal or an LDAP error.
    static let transient: [(String, any Error & Sendable, Bool)] = [
        ("connect timeout", HTTPClientError.connectTimeout, true),
        ("remote closed", HTTPClientError.remoteConnectionClosed, true),
        ("connection reset", IOError(errnoCode: ECONNRESET, reason: "read"), true),
        ("channel closed", ChannelError.ioOnClosedChannel, true),
        ("503", status(503), true),
        ("500", status(500), true),
        ("429", status(429), true),
        ("401 token-expired", status(401, "token-expired"), false),
        ("409 run-closed", status(409, "run-closed"), false),
        ("409 page-conflict", status(409, "page-conflict"), false),
        ("413", status(413), false),
        ("422", status(422), false),
        ("426", status(426, "connector-update-required"), false),
        ("invalid answer", AgentError.invalidResponse("bad JSON"), false),
        ("LDAP bind refused", LDAPError(code: .invalidCredentials, operation: "bind"), false),
        ("update required", ConnectorError.updateRequired(detail: "x"), false),
        ("cancelled", CancellationError(), false),
    ]

    @Test("only failures without an answer, 5xx and 429 are retried", arguments: transient.indices)
    func isTransient(_ index: Int) {
        let (name, error, expected) = Self.transient[index]
        #expect(RunUploader.isTransient(error) == expected, "\(name)")
    }

    /// Which failures a loop logs and survives: refusals other than 401; a 401 (revoked) stops the connector.
    static let refusals: [(String, any Error & Sendable, Bool)] = [
        ("422", status(422), true),
        ("404", status(404), true),
        ("invalid answer", AgentError.invalidResponse("bad JSON"), true),
        ("refused page", RunUploader.Stop.refused(status(413)), true),
        ("revoked", status(401), false),
        ("revoked during an upload", RunUploader.Stop.refused(status(401)), false),
        ("503", status(503), false),
        ("LDAP", LDAPError(code: .serverDown, operation: "search"), false),
    ]

    @Test("a refusal other than 401 is logged and the loop goes on", arguments: refusals.indices)
    func isRefusalToLog(_ index: Int) {
        let (name, error, expected) = Self.refusals[index]
        #expect(ConnectorService.isRefusalToLog(error) == expected, "\(name)")
    }

    @Test("a DC that refused the password is not bound to again until the password file changes")
    func probeKeepsARefusedPassword() async throws {
        let directory = TestDirectory()
        let folder = NSTemporaryDirectory() + "charter-connector-probe-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "Wrong-Pass1".write(toFile: folder + "/password", atomically: true, encoding: .utf8)
        var settings = ConnectorConfiguration.DirectorySettings(
            urls: [directory.ldapsURL], baseDN: directory.baseDN, bindDN: directory.bindDN,
            passwordFile: folder + "/password"
        )
        settings.caFile = directory.caFile
        let site = SiteDirectory(
            configuration: ConnectorConfiguration(serviceURL: "https://charter.example.com", name: "probe", directory: settings),
            logger: directory.logger
        )
        var probe = DomainControllerProbe()
        probe.interval = .zero
        let refused = try #require(await probe.status(of: site).first)
        #expect(!refused.reachable)
        #expect(refused.error?.contains("Invalid credentials") == true, "\(refused)")
        #expect(refused.error?.contains("Wrong-Pass1") == false)
        #expect((refused.error?.count ?? 0) <= 500)
        // The same password again: the last result, not a new bind (its time did not move).
        try await Task.sleep(for: .milliseconds(20))
        let again = try #require(await probe.status(of: site).first)
        #expect(again.checkedAt == refused.checkedAt)
        #expect(again.error == refused.error)
        // The rotated password: bound again.
        try directory.password.write(toFile: folder + "/password", atomically: true, encoding: .utf8)
        let rotated = try #require(await probe.status(of: site).first)
        #expect(rotated.reachable, "\(rotated)")
        #expect(rotated.error == nil)
        #expect(rotated.checkedAt > refused.checkedAt)
    }
}
