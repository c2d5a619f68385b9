import ArgumentParser
import CharterServer
import CharterStore
import Configuration
import Foundation
import Logging
import PostgresNIO

/// Options every command that talks to the database shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "A JSON configuration file (also CHARTER_CONFIG_FILE).")
    var config: String?

    @Option(name: .long, help: "postgres:// URL to use instead of the configured one.")
    var databaseURL: String?

    /// The configuration reader over environment and file.
    func reader() async throws -> ConfigReader {
        try await ConfigurationSources.reader(file: config, environment: ProcessInfo.processInfo.environment)
    }

    /// The URL of the schema owner: `--database-url`, else `database.migration_url`, else `database.url`.
    func ownerURL() async throws -> String {
        if let databaseURL { return databaseURL }
        let reader = try await reader()
        if let url = reader.string(forKey: "database.migration_url", isSecret: true) ?? reader.string(forKey: "database.url", isSecret: true) {
            return url
        }
        throw CLIFailure(
            "no database: set CHARTER_DATABASE_MIGRATION_URL or CHARTER_DATABASE_URL, or pass --database-url"
        )
    }
}

/// A failure to report as one line (`Error: …`) without the usage text argument errors get.
struct CLIFailure: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Bootstraps swift-log once for the process.
enum LogSetup {
    /// For one-shot commands: warnings and worse, or `log.level` (`CHARTER_LOG_LEVEL`, or the configuration
    /// file) when it is set (`debug` shows a sync's timings).
    static func bootstrapCommand(configFile: String? = nil) async throws -> Logger {
        let reader = try await ConfigurationSources.reader(
            file: configFile, environment: ProcessInfo.processInfo.environment
        )
        do {
            return bootstrap(level: try ServerConfiguration.logLevel(reader, default: .warning))
        } catch let error as ConfigurationError {
            throw CLIFailure(error.description)
        }
    }

    static func bootstrap(level: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return Logger(label: "charter")
    }
}

/// Runs `body` with a database client that is started before and shut down after.
func withDatabase<Result: Sendable>(
    url: String,
    logger: Logger,
    _ body: @Sendable (Database) async throws -> Result
) async throws -> Result {
    let configuration: PostgresClient.Configuration
    do {
        configuration = try DatabaseURL.configuration(from: url)
    } catch {
        throw CLIFailure("database URL: \(error.description)")
    }
    let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
    return try await client.whileRunning { try await body(Database(client: client)) }
}

/// The person or process behind a CLI action, for the audit log.
var cliActor: String {
    "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.userName)
}

/// Prints a JSON object on one line, keys sorted.
func printJSON(_ object: [String: any Sendable]) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}
