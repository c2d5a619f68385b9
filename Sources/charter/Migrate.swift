import ArgumentParser
import CharterStore
import Foundation
import Logging

/// `charter migrate`: applies pending migrations as the schema owner, safely from several replicas at once.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending database migrations.",
        discussion: """
            Connects as the schema owner (CHARTER_DATABASE_MIGRATION_URL, else CHARTER_DATABASE_URL, or \
            --database-url). Each migration runs once, in its own transaction, under an advisory lock.
            """
    )

    @OptionGroup var options: CommonOptions

    func run() async throws {
        let logger = LogSetup.bootstrap(level: .info)
        let bootstrap = try BootstrapKeyConfiguration.read(try await options.reader())
        try await Self.apply(url: try await options.ownerURL(), bootstrap: bootstrap, logger: logger)
    }

    /// Applies pending migrations, then makes sure the bootstrap API key exists when one is configured.
    static func apply(url: String, bootstrap: BootstrapKeyConfiguration? = nil, logger: Logger) async throws {
        let migrations: [Migration]
        do {
            migrations = try Migration.bundled()
        } catch let error as MigrationError {
            throw CLIFailure(error.description)
        }
        do {
            let (outcome, bootstrapped) = try await withDatabase(url: url, logger: logger) { database in
                let outcome = try await Migrator(migrations: migrations).migrate(client: database.client, logger: logger)
                return (outcome, try await bootstrap?.apply(to: database, logger: logger))
            }
            for migration in outcome.applied { print("applied \(migration.name)") }
            print("schema is current: \(outcome.applied.count) applied now, \(outcome.alreadyApplied) before")
            if let bootstrapped { print(bootstrapped) }
        } catch let error as MigrationError {
            throw CLIFailure(error.description)
        }
    }
}
