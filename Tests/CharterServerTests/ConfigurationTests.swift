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
    }

    @Test("environment values are read with the CHARTER_ prefix")
    func environment() async throws {
        let config = try await Self.load([
            "CHARTER_DATABASE_URL": "postgres://charter@localhost/charter",
            "CHARTER_HTTP_PORT": "9090",
            "CHARTER_HTTP_MAX_BODY_BYTES": "2048",
            "CHARTER_LOG_LEVEL": "DEBUG",
        ])
        #expect(config.port == 9090)
        #expect(config.maxBodyBytes == 2048)
        #expect(config.logLevel == .debug)
    }

    @Test("a bad value stops start-up with one line naming the variable", arguments: [
        ("CHARTER_HTTP_PORT", "abc", "CHARTER_HTTP_PORT"),
        ("CHARTER_HTTP_PORT", "70000", "CHARTER_HTTP_PORT"),
        ("CHARTER_DATABASE_POOL_SIZE", "0", "CHARTER_DATABASE_POOL_SIZE"),
        ("CHARTER_LOG_LEVEL", "loud", "CHARTER_LOG_LEVEL"),
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
}
