import CharterCore
import CharterServer
import Foundation
import Logging
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    static func load(_ environment: [String: String]) async throws -> ServerConfiguration {
        try ServerConfiguration(reader: try await ConfigurationSources.reader(file: nil, environment: environment))
    }

    @Test("defaults apply when only the database is given")
    func defaults() async throws {
        let config = try await Self.load(["CHARTER_DATABASE_URL": "postgres://charter@localhost/charter"])
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 8080)
        #expect(config.poolSize == 20)
        #expect(config.logLevel == .info)
        #expect(config.limits.headerTimeoutSeconds == 10)
        #expect(config.limits.syncRunsPerTenant == 2)
        #expect(config.limits.syncMaximumObjects == 100_000)
        #expect(config.deviceTokenSeconds == 86_400)
        #expect(config.sessionRefreshIntervalSeconds == 900)
        #expect(config.auditVerifyIntervalSeconds == 60)
        #expect(config.auditVerifyMaxEvents == 10_000)
    }

    @Test("environment values are read with the CHARTER_ prefix")
    func environment() async throws {
        let config = try await Self.load([
            "CHARTER_DATABASE_URL": "postgres://charter@localhost/charter",
            "CHARTER_HTTP_PORT": "9090",
            "CHARTER_HTTP_MAX_BODY_BYTES": "2048",
            "CHARTER_LOG_LEVEL": "DEBUG",
            "CHARTER_AGENT_DEVICE_TOKEN_SECONDS": "3600",
            "CHARTER_SESSION_REFRESH_INTERVAL_SECONDS": "120",
        ])
        #expect(config.deviceTokenSeconds == 3600)
        #expect(config.sessionRefreshPolicy.interval == 120)
        #expect(config.port == 9090)
        #expect(config.maxBodyBytes == 2048)
        #expect(config.logLevel == .debug)
    }

    @Test("a bad value stops start-up with one line naming the variable", arguments: [
        ("CHARTER_HTTP_PORT", "abc", "CHARTER_HTTP_PORT"),
        ("CHARTER_HTTP_PORT", "70000", "CHARTER_HTTP_PORT"),
        ("CHARTER_DATABASE_POOL_SIZE", "0", "CHARTER_DATABASE_POOL_SIZE"),
        ("CHARTER_LOG_LEVEL", "loud", "CHARTER_LOG_LEVEL"),
        ("CHARTER_HTTP_HEADER_TIMEOUT_SECONDS", "0", "CHARTER_HTTP_HEADER_TIMEOUT_SECONDS"),
        ("CHARTER_DIRECTORY_SYNC_MAX_RUNS_PER_TENANT", "65", "CHARTER_DIRECTORY_SYNC_MAX_RUNS_PER_TENANT"),
        ("CHARTER_AGENT_DEVICE_TOKEN_SECONDS", "60", "CHARTER_AGENT_DEVICE_TOKEN_SECONDS"),
        ("CHARTER_SESSION_REFRESH_INTERVAL_SECONDS", "59", "CHARTER_SESSION_REFRESH_INTERVAL_SECONDS"),
        ("CHARTER_SESSION_REFRESH_INTERVAL_SECONDS", "86401", "CHARTER_SESSION_REFRESH_INTERVAL_SECONDS"),
        ("CHARTER_AUDIT_VERIFY_INTERVAL_SECONDS", "-1", "CHARTER_AUDIT_VERIFY_INTERVAL_SECONDS"),
        ("CHARTER_AUDIT_VERIFY_MAX_EVENTS", "99", "CHARTER_AUDIT_VERIFY_MAX_EVENTS"),
    ])
    func badValue(variable: String, value: String, named: String) async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await Self.load(["CHARTER_DATABASE_URL": "postgres://charter@localhost/charter", variable: value])
        }
        let message = try #require(error).description
        #expect(message.hasPrefix("configuration: \(named) "))
        #expect(!message.contains("\n"))
    }

    @Test("the database URL is required")
    func databaseRequired() async throws {
        let error = await #expect(throws: ConfigurationError.self) { try await Self.load([:]) }
        #expect(error?.key == "database.url")
    }

    @Test("a JSON file supplies what the environment does not, and the environment wins")
    func file() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("charter-\(UUID()).json")
        try Data(#"{"http": {"port": 7070, "host": "0.0.0.0"}, "database": {"url": "postgres://a@b/c"}}"#.utf8)
            .write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let reader = try await ConfigurationSources.reader(file: path.path, environment: ["CHARTER_HTTP_PORT": "6060"])
        let config = try ServerConfiguration(reader: reader)
        #expect(config.port == 6060)
        #expect(config.host == "0.0.0.0")
        #expect(config.databaseURL == "postgres://a@b/c")
    }

    // MARK: - Outbound

    @Test("outbound.allowed_cidrs is empty by default and reads a list from the environment or a file")
    func allowedCIDRs() async throws {
        #expect(try await Self.load(Self.database).outboundAllowedNetworks.isEmpty)
        let environment = try await Self.load(
            Self.database.merging(["CHARTER_OUTBOUND_ALLOWED_CIDRS": "10.20.0.0/16, fd12:3456::/48"]) { $1 }
        )
        #expect(environment.outboundAllowedNetworks.map(\.description) == ["10.20.0.0/16", "fd12:3456::/48"])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("charter-\(UUID()).json")
        try Data(#"{"outbound": {"allowed_cidrs": ["127.0.0.0/8", "::1"]}, "database": {"url": "postgres://a@b/c"}}"#.utf8)
            .write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        let file = try ServerConfiguration(reader: try await ConfigurationSources.reader(file: path.path, environment: [:]))
        #expect(file.outboundAllowedNetworks.map(\.description) == ["127.0.0.0/8", "::1/128"])
        #expect(file.webhookTimeoutSeconds == 10)
    }

    @Test(
        "a malformed CIDR or webhook timeout stops start-up naming the variable",
        arguments: [
            ("CHARTER_OUTBOUND_ALLOWED_CIDRS", "10.0.0.0/33"), ("CHARTER_OUTBOUND_ALLOWED_CIDRS", "localhost"),
            ("CHARTER_OUTBOUND_ALLOWED_CIDRS", "10.0.0.0/8,010.1.2.3"), ("CHARTER_WEBHOOKS_TIMEOUT_SECONDS", "0"),
            ("CHARTER_WEBHOOKS_TIMEOUT_SECONDS", "121"),
        ]
    )
    func badOutbound(variable: String, value: String) async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await Self.load(Self.database.merging([variable: value]) { $1 })
        }
        #expect(try #require(error).description.hasPrefix("configuration: \(variable) "))
    }

    // MARK: - SMTP

    static let database = ["CHARTER_DATABASE_URL": "postgres://charter@localhost/charter"]

    @Test("email is off without smtp.host; with it, the defaults follow the TLS mode")
    func smtpDefaults() async throws {
        #expect(try await Self.load(Self.database).smtp == nil)
        let smtp = try #require(
            try await Self.load(Self.database.merging(["CHARTER_SMTP_HOST": "mail.example.com", "CHARTER_SMTP_FROM": "it@example.com"]) { $1 })
                .smtp
        )
        #expect(smtp.host == "mail.example.com")
        #expect(smtp.security == .starttls)
        #expect(smtp.port == 587)
        #expect(smtp.from == Mailbox(address: "it@example.com"))
        #expect(smtp.credentials == nil)
        #expect(smtp.caFile == nil)
        #expect(smtp.timeoutSeconds == 30)
        #expect(smtp.retryBaseSeconds == 30)
        let implicit = try await Self.load(
            Self.database.merging(["CHARTER_SMTP_HOST": "mail.example.com", "CHARTER_SMTP_FROM": "it@example.com", "CHARTER_SMTP_TLS": "TLS"]) { $1 }
        )
        #expect(implicit.smtp?.port == 465)
    }

    @Test("every SMTP key is read; the password comes from smtp.password or, without its final newline, smtp.password_file")
    func smtpKeys() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("charter-smtp-\(UUID())")
        try Data("pass word\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let keys = [
            "CHARTER_SMTP_HOST": "127.0.0.1", "CHARTER_SMTP_PORT": "2525", "CHARTER_SMTP_TLS": "none",
            "CHARTER_SMTP_USERNAME": "charter", "CHARTER_SMTP_PASSWORD_FILE": file.path,
            "CHARTER_SMTP_FROM": "\"Charter Approvals\" <approvals@example.com>", "CHARTER_SMTP_HELO_NAME": "charter.example.com",
            "CHARTER_SMTP_TIMEOUT_SECONDS": "5", "CHARTER_SMTP_RETRY_BASE_SECONDS": "2",
        ]
        let smtp = try #require(try await Self.load(Self.database.merging(keys) { $1 }).smtp)
        #expect(smtp.port == 2525)
        #expect(smtp.security == SMTPConfiguration.Security.none)
        #expect(smtp.credentials?.username == "charter")
        #expect(smtp.credentials?.password == "pass word")
        #expect(smtp.from == Mailbox(name: "Charter Approvals", address: "approvals@example.com"))
        #expect(smtp.heloName == "charter.example.com")
        #expect(smtp.timeoutSeconds == 5)
        #expect(smtp.retryBaseSeconds == 2)
        let direct = try await Self.load(
            Self.database.merging(keys) { $1 }.merging(["CHARTER_SMTP_PASSWORD": "from env"]) { $1 }
        )
        #expect(direct.smtp?.credentials?.password == "from env")
    }

    @Test(
        "a bad SMTP value stops start-up naming its variable",
        arguments: [
            (["CHARTER_SMTP_TLS": "ssl"], "CHARTER_SMTP_TLS"),
            (["CHARTER_SMTP_TLS": "none"], "CHARTER_SMTP_TLS"),
            (["CHARTER_SMTP_FROM": "Charter"], "CHARTER_SMTP_FROM"),
            (["CHARTER_SMTP_PORT": "0"], "CHARTER_SMTP_PORT"),
            (["CHARTER_SMTP_TIMEOUT_SECONDS": "0"], "CHARTER_SMTP_TIMEOUT_SECONDS"),
            (["CHARTER_SMTP_USERNAME": "charter"], "CHARTER_SMTP_PASSWORD"),
            (["CHARTER_SMTP_PASSWORD": "secret"], "CHARTER_SMTP_USERNAME"),
            (["CHARTER_SMTP_PASSWORD_FILE": "/nonexistent/password", "CHARTER_SMTP_USERNAME": "u"], "CHARTER_SMTP_PASSWORD_FILE"),
            (["CHARTER_SMTP_CA_FILE": "/nonexistent/ca.pem"], "CHARTER_SMTP_CA_FILE"),
            (["CHARTER_SMTP_HELO_NAME": "two words"], "CHARTER_SMTP_HELO_NAME"),
        ]
    )
    func smtpBadValue(values: [String: String], named: String) async throws {
        let environment = Self.database.merging(["CHARTER_SMTP_HOST": "mail.example.com", "CHARTER_SMTP_FROM": "it@example.com"]) { $1 }
            .merging(values) { $1 }
        let error = await #expect(throws: ConfigurationError.self) { try await Self.load(environment) }
        let message = try #require(error).description
        #expect(message.hasPrefix("configuration: \(named) "), "\(message)")
        #expect(!message.contains("secret"))
    }

    @Test("the from address is required with smtp.host; tls none is accepted on loopback only")
    func smtpRequirements() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await Self.load(Self.database.merging(["CHARTER_SMTP_HOST": "mail.example.com"]) { $1 })
        }
        #expect(error?.key == "smtp.from")
        for host in ["127.0.0.1", "127.10.0.3", "::1", "localhost"] {
            let config = try await Self.load(
                Self.database.merging(["CHARTER_SMTP_HOST": host, "CHARTER_SMTP_FROM": "it@example.com", "CHARTER_SMTP_TLS": "none"]) { $1 }
            )
            #expect(config.smtp?.port == 25, "\(host)")
        }
    }
}
