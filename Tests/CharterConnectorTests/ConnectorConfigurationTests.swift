import CharterConnector
import CharterDirectory
import Foundation
import Testing

@Suite("Connector configuration")
struct ConnectorConfigurationTests {
    /// A password file and a CA file of this test, removed at the end.
    final class Files: Sendable {
        let directory: String
        var password: String { directory + "/password" }
        var empty: String { directory + "/empty" }
        var notPEM: String { directory + "/not.pem" }

        init() throws {
            directory = NSTemporaryDirectory() + "charter-connector-config-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try "Secret-Pass1\n".write(toFile: directory + "/password", atomically: true, encoding: .utf8)
            try "".write(toFile: directory + "/empty", atomically: true, encoding: .utf8)
            try "hello".write(toFile: directory + "/not.pem", atomically: true, encoding: .utf8)
        }

        deinit { try? FileManager.default.removeItem(atPath: directory) }
    }

    /// The environment of a valid configuration.
    static func valid(_ files: Files) -> [String: String] {
        [
            "CHARTER_CONNECTOR_SERVICE_URL": "https://charter.example.com/",
            "CHARTER_CONNECTOR_DIRECTORY_URLS": "ldaps://dc1.corp.example,ldaps://dc2.corp.example:636",
            "CHARTER_CONNECTOR_DIRECTORY_BASE_DN": "DC=corp,DC=example",
            "CHARTER_CONNECTOR_DIRECTORY_BIND_DN": "charter-sync@corp.example",
            "CHARTER_CONNECTOR_DIRECTORY_PASSWORD_FILE": files.password,
        ]
    }

    static func load(_ environment: [String: String], file: String? = nil) async throws -> ConnectorConfiguration {
        try await ConnectorConfiguration.load(file: file, environment: environment, hostname: "conn1.corp.example")
    }

    @Test("a valid environment gives every value, with defaults for the rest")
    func validEnvironment() async throws {
        let files = try Files()
        let configuration = try await Self.load(Self.valid(files))
        #expect(configuration.serviceURL == "https://charter.example.com")
        #expect(configuration.name == "conn1.corp.example")
        #expect(configuration.stateDirectory == "/var/lib/charter-connector")
        #expect(configuration.directory.urls == ["ldaps://dc1.corp.example", "ldaps://dc2.corp.example:636"])
        #expect(configuration.directory.transportSecurity == .ldaps)
        #expect(configuration.directory.pageSize == 1000)
        #expect(configuration.directory.caFile == nil)
        #expect(configuration.enrollmentToken == nil)
        #expect(try configuration.readPassword() == "Secret-Pass1")
        let ldap = configuration.ldapConfiguration(password: "p")
        #expect(ldap.urls == configuration.directory.urls)
        #expect(ldap.bindDN == "charter-sync@corp.example")
    }

    @Test("a JSON file nests the keys; the environment wins over it")
    func fileAndEnvironment() async throws {
        let files = try Files()
        let path = files.directory + "/connector.json"
        let json = """
            {"service_url": "https://file.example.com", "name": "Site A connector 1", "state_dir": "/srv/connector",
             "enrollment_token_file": "\(files.directory)/token",
             "directory": {"urls": ["ldap://dc1.corp.example"], "tls": "start_tls", "base_dn": "DC=corp,DC=example",
                           "bind_dn": "CN=sync,DC=corp,DC=example", "password_file": "\(files.password)",
                           "page_size": 250}}
            """
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        try "chte_0123\n".write(toFile: files.directory + "/token", atomically: true, encoding: .utf8)
        let configuration = try await Self.load(["CHARTER_CONNECTOR_SERVICE_URL": "https://env.example.com"], file: path)
        #expect(configuration.serviceURL == "https://env.example.com")
        #expect(configuration.name == "Site A connector 1")
        #expect(configuration.stateDirectory == "/srv/connector")
        #expect(configuration.directory.transportSecurity == .startTLS)
        #expect(configuration.directory.urls == ["ldap://dc1.corp.example"])
        #expect(configuration.directory.pageSize == 250)
        #expect(configuration.enrollmentToken == "chte_0123")
        let viaVariable = try await Self.load([
            "CHARTER_CONNECTOR_CONFIG": path, "CHARTER_CONNECTOR_SERVICE_URL": "https://env.example.com",
        ])
        #expect(viaVariable == configuration)
    }

    @Test("plain http is accepted only on a loopback host with allow_insecure_http")
    func insecureHTTP() async throws {
        let files = try Files()
        var environment = Self.valid(files)
        environment["CHARTER_CONNECTOR_SERVICE_URL"] = "http://127.0.0.1:8080"
        environment["CHARTER_CONNECTOR_ALLOW_INSECURE_HTTP"] = "true"
        #expect(try await Self.load(environment).serviceURL == "http://127.0.0.1:8080")
    }

    @Test("plain LDAP is accepted with directory.allow_plain")
    func plainLDAP() async throws {
        let files = try Files()
        var environment = Self.valid(files)
        environment["CHARTER_CONNECTOR_DIRECTORY_URLS"] = "ldap://dc1.corp.example"
        environment["CHARTER_CONNECTOR_DIRECTORY_TLS"] = "plain"
        environment["CHARTER_CONNECTOR_DIRECTORY_ALLOW_PLAIN"] = "true"
        #expect(try await Self.load(environment).directory.transportSecurity == .plain)
    }

    /// Refusals: the environment changes (nil removes a variable), the key named and a part of the message.
    static let refusals: [(changes: [String: String?], key: String, message: String)] = [
        (["CHARTER_CONNECTOR_SERVICE_URL": nil], "service_url", "is required"),
        (["CHARTER_CONNECTOR_SERVICE_URL": "http://charter.example.com"], "service_url", "must use https://"),
        (["CHARTER_CONNECTOR_SERVICE_URL": "ftp://charter.example.com"], "service_url", "https:// URL"),
        (["CHARTER_CONNECTOR_SERVICE_URL": "https://"], "service_url", "must be a URL"),
        (["CHARTER_CONNECTOR_SERVICE_URL": "https://charter.example.com?x=1"], "service_url", "must be a URL"),
        (
            ["CHARTER_CONNECTOR_SERVICE_URL": "http://charter.example.com", "CHARTER_CONNECTOR_ALLOW_INSECURE_HTTP": "true"],
            "service_url", "loopback"
        ),
        (["CHARTER_CONNECTOR_ALLOW_INSECURE_HTTP": "maybe"], "allow_insecure_http", "true or false"),
        (["CHARTER_CONNECTOR_NAME": String(repeating: "n", count: 201)], "name", "1 to 200"),
        (["CHARTER_CONNECTOR_STATE_DIR": "state"], "state_dir", "absolute path"),
        (["CHARTER_CONNECTOR_DIRECTORY_URLS": nil], "directory.urls", "1 to 10"),
        (
            ["CHARTER_CONNECTOR_DIRECTORY_URLS": (1...11).map { "ldaps://dc\($0).corp.example" }.joined(separator: ",")],
            "directory.urls", "1 to 10"
        ),
        (["CHARTER_CONNECTOR_DIRECTORY_URLS": "ldap://dc1.corp.example"], "directory.urls", "must be ldaps://"),
        (["CHARTER_CONNECTOR_DIRECTORY_URLS": "ldaps://"], "directory.urls", "must be ldaps://"),
        (["CHARTER_CONNECTOR_DIRECTORY_TLS": "start_tls"], "directory.urls", "must be ldap://"),
        (["CHARTER_CONNECTOR_DIRECTORY_TLS": "tls"], "directory.tls", "ldaps, start_tls or plain"),
        (["CHARTER_CONNECTOR_DIRECTORY_TLS": "plain"], "directory.tls", "directory.allow_plain"),
        (["CHARTER_CONNECTOR_DIRECTORY_BASE_DN": nil], "directory.base_dn", "is required"),
        (["CHARTER_CONNECTOR_DIRECTORY_BASE_DN": "corp.example"], "directory.base_dn", "is not a DN"),
        (["CHARTER_CONNECTOR_DIRECTORY_BIND_DN": nil], "directory.bind_dn", "is required"),
        (["CHARTER_CONNECTOR_DIRECTORY_PASSWORD_FILE": nil], "directory.password_file", "is required"),
        (["CHARTER_CONNECTOR_DIRECTORY_PASSWORD_FILE": "/nonexistent/password"], "directory.password_file", "cannot be read"),
        (["CHARTER_CONNECTOR_DIRECTORY_PAGE_SIZE": "0"], "directory.page_size", "from 1 to 1000"),
        (["CHARTER_CONNECTOR_DIRECTORY_PAGE_SIZE": "5000"], "directory.page_size", "from 1 to 1000"),
        (["CHARTER_CONNECTOR_DIRECTORY_PAGE_SIZE": "many"], "directory.page_size", "from 1 to 1000"),
        (["CHARTER_CONNECTOR_DIRECTORY_CA_FILE": "/nonexistent/ca.pem"], "directory.ca_file", "PEM"),
        (["CHARTER_CONNECTOR_ENROLLMENT_TOKEN": "chtd_0123"], "enrollment_token", "chte_"),
        (["CHARTER_CONNECTOR_ENROLLMENT_TOKEN_FILE": "/nonexistent/token"], "enrollment_token_file", "cannot be read"),
        (["CHARTER_CONNECTOR_LOG_LEVEL": "loud"], "log.level", "must be one of"),
    ]

    @Test("every refusal names its key, its variable and how to fix it", arguments: refusals.indices)
    func refusal(_ index: Int) async throws {
        let files = try Files()
        let (changes, key, message) = Self.refusals[index]
        var environment = Self.valid(files)
        for (name, value) in changes { environment[name] = value }
        let error = await #expect(throws: ConnectorConfigurationError.self) { try await Self.load(environment) }
        #expect(error?.key == key)
        #expect(error?.problem.contains(message) == true, "\(error?.problem ?? "")")
        let variable = ConnectorConfigurationError.environmentName(of: key)
        #expect(error?.description.contains("'\(key)' (\(variable))") == true)
        #expect(error?.description.contains("\n") == false)
    }

    @Test("an empty password file and a CA file that is not PEM are refused")
    func fileContents() async throws {
        let files = try Files()
        var environment = Self.valid(files)
        environment["CHARTER_CONNECTOR_DIRECTORY_PASSWORD_FILE"] = files.empty
        let empty = await #expect(throws: ConnectorConfigurationError.self) { try await Self.load(environment) }
        #expect(empty?.problem.contains("is empty") == true)
        environment = Self.valid(files)
        environment["CHARTER_CONNECTOR_DIRECTORY_CA_FILE"] = files.notPEM
        let ca = await #expect(throws: ConnectorConfigurationError.self) { try await Self.load(environment) }
        #expect(ca?.key == "directory.ca_file")
    }

    @Test("a configuration file that is not a JSON object is named")
    func badFile() async throws {
        let files = try Files()
        let path = files.directory + "/connector.json"
        try "[1, 2".write(toFile: path, atomically: true, encoding: .utf8)
        let error = await #expect(throws: ConnectorConfigurationError.self) { try await Self.load(Self.valid(files), file: path) }
        #expect(error?.description.contains("CHARTER_CONNECTOR_CONFIG") == true)
    }

    @Test("the password is read again at each use: rotating it is editing the file")
    func passwordRotation() async throws {
        let files = try Files()
        let configuration = try await Self.load(Self.valid(files))
        #expect(try configuration.readPassword() == "Secret-Pass1")
        try "Rotated-Pass2".write(toFile: files.password, atomically: true, encoding: .utf8)
        #expect(try configuration.readPassword() == "Rotated-Pass2")
    }
}
