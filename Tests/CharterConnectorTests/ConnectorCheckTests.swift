import CharterAgent
import CharterConnector
import CharterCore
import CharterDirectory
import CharterTestSupport
import Crypto
import Foundation
import Logging
import Testing
import AsyncHTTPClient

@Suite("Connector check and state")
struct ConnectorCheckTests {
    static let directory = TestDirectory()

    /// A connector configuration for the test DC over LDAPS, with a service URL nothing listens on.
    static func configuration(
        urls: [String]? = nil, password: String? = nil, baseDN: String = directory.baseDN
    ) throws -> (ConnectorConfiguration, String) {
        let folder = NSTemporaryDirectory() + "charter-connector-check-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ((password ?? directory.password) + "\n").write(toFile: folder + "/password", atomically: true, encoding: .utf8)
        var settings = ConnectorConfiguration.DirectorySettings(
            urls: urls ?? [directory.ldapsURL], baseDN: baseDN, bindDN: directory.bindDN,
            passwordFile: folder + "/password"
        )
        settings.caFile = directory.caFile
        settings.pageSize = 200
        var configuration = ConnectorConfiguration(serviceURL: "http://127.0.0.1:9", name: "check", directory: settings)
        configuration.allowsInsecureHTTP = true
        configuration.stateDirectory = folder + "/state"
        return (configuration, folder)
    }

    static func check(_ configuration: ConnectorConfiguration) async throws -> [ConnectorCheck.Line] {
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let lines = await ConnectorCheck(configuration: configuration, httpClient: http, logger: directory.logger).run()
        try await http.shutdown()
        return lines
    }

    @Test("check binds to the DC, names it, counts a full read by kind and pages, and fails on a silent service")
    func checkAgainstSamba() async throws {
        // An OU of this test's own, so that the counts are exact while other tests change the DC.
        let admin = try await Self.directory.connect()
        defer { admin.close() }
        let ou = try await Self.directory.makeOU(admin, "connector-check")
        let ada = try await admin.addUser("Ada", in: ou)
        let bob = try await admin.addUser("Bob", in: ou, disabled: true)
        try await admin.addUser("Cy", in: ou)
        try await admin.addGroup("Staff", in: ou, members: [ada, bob])
        try await admin.addComputer("WS-1", in: ou)

        let (configuration, folder) = try Self.configuration(baseDN: ou)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lines = try await Self.check(configuration)
        let dc = try #require(lines.first { $0.subject == "dc \(Self.directory.ldapsURL)" })
        #expect(dc.passed, "\(dc)")
        #expect(dc.description.hasPrefix("ok   dc "))
        let identity = try #require(lines.first { $0.subject == "directory" })
        #expect(identity.passed, "\(identity)")
        #expect(identity.detail.contains("NTDS Settings"))
        let read = try #require(lines.first { $0.subject == "full read" })
        #expect(read.passed)
        #expect(
            read.detail.hasPrefix("6 objects under \(ou) (domain 0, ou 1, group 1, user 3, computer 1) in "), "\(read)"
        )
        #expect(read.detail.hasSuffix("pages of at most 200"), "\(read)")
        let service = try #require(lines.first { $0.subject == "service" })
        #expect(!service.passed)
        #expect(service.description.hasPrefix("FAIL service: http://127.0.0.1:9 does not answer"))
    }

    @Test("a DC that does not answer and a wrong password each fail their own line")
    func failures() async throws {
        let silent = "ldaps://127.0.0.2:1"
        let (configuration, folder) = try Self.configuration(urls: [silent, Self.directory.ldapsURL])
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lines = try await Self.check(configuration)
        #expect(lines.first { $0.subject == "dc \(silent)" }?.passed == false)
        #expect(lines.first { $0.subject == "dc \(Self.directory.ldapsURL)" }?.passed == true)
        #expect(lines.first { $0.subject == "full read" }?.passed == true)

        let (wrong, wrongFolder) = try Self.configuration(password: "Not-The-Password9")
        defer { try? FileManager.default.removeItem(atPath: wrongFolder) }
        let refused = try await Self.check(wrong)
        let dc = try #require(refused.first { $0.subject.hasPrefix("dc ") })
        #expect(!dc.passed)
        #expect(dc.detail.contains("Invalid credentials"), "\(dc)")
        #expect(!dc.detail.contains("Not-The-Password9"))
        #expect(refused.first { $0.subject == "directory" }?.passed == false)
    }

    @Test("the identity is stored with mode 0600 in a 0700 directory and reads back")
    func stateFile() throws {
        let folder = NSTemporaryDirectory() + "charter-connector-state-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let directory = folder + "/state"
        #expect(try ConnectorState.load(from: directory) == nil)
        let key = Curve25519.Signing.PrivateKey()
        let state = ConnectorState(
            connectorID: "c1", tenantID: "t1", serviceURL: "https://charter.example.com", signingKey: key,
            connectorToken: "chtk_x", tokenExpiresAt: Date(timeIntervalSince1970: 1_800_000_000)
        )
        try state.save(to: directory)
        try state.save(to: directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/" + ConnectorState.fileName)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let folderAttributes = try FileManager.default.attributesOfItem(atPath: directory)
        #expect((folderAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        let loaded = try #require(try ConnectorState.load(from: directory))
        #expect(loaded.connectorID == "c1")
        #expect(loaded.tenantID == "t1")
        #expect(loaded.connectorToken == "chtk_x")
        #expect(loaded.tokenExpiresAt == state.tokenExpiresAt)
        #expect(loaded.signingKey.rawRepresentation == key.rawRepresentation)
    }

    @Test("a corrupt identity file is a clear error, not a new enrollment")
    func corruptState() throws {
        let folder = NSTemporaryDirectory() + "charter-connector-state-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "{}".write(toFile: folder + "/" + ConnectorState.fileName, atomically: true, encoding: .utf8)
        #expect(throws: ConnectorError.self) { try ConnectorState.load(from: folder) }
    }
}
