package import Logging
package import PostgresNIO
import Foundation

/// Applies the bundled migrations, each once, each in its own transaction, under an advisory lock.
///
/// Run as the role that owns the schema. Replicas starting together queue on the lock; the second finds
/// nothing left to do.
package struct Migrator: Sendable {
    /// Arbitrary but fixed: the advisory-lock key all Charter processes agree on for migrations.
    static let lockKey: Int64 = 0x4348_5254_4D49_4752

    package let migrations: [Migration]

    package init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// What a migration run did.
    package struct Outcome: Sendable {
        package var applied: [Migration]
        package var alreadyApplied: Int
    }

    /// Applies every migration not yet recorded.
    ///
    /// - Throws: ``MigrationError`` for edited or unknown migrations and for SQL failures (with the server's message).
    package func migrate(client: PostgresClient, logger: Logger) async throws -> Outcome {
        try await client.withOpenConnection { connection in
            try await connection.statement("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
            do {
                let outcome = try await migrate(connection: connection, logger: logger)
                try await connection.statement("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                return outcome
            } catch {
                _ = try? await connection.statement("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                throw error
            }
        }
    }

    /// This build's migrations the database has not applied yet, after checking that every applied one is
    /// this build's, unedited.
    ///
    /// Migrations applied after this build's last one are tolerated: a newer release migrated the database
    /// (during a rolling upgrade, or before a rollback), and its migrations keep the release before it
    /// working (docs/deployment.md, "Upgrade"). An unknown migration before this build's last one is not.
    ///
    /// - Throws: ``MigrationError/checksumMismatch(version:name:)`` or ``MigrationError/unknownApplied(version:)``.
    package func pending(connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        let exists = try await connection.statement(
            "SELECT to_regclass('public.schema_migrations') IS NOT NULL",
            logger: logger
        )
        var hasTable = false
        for try await (value) in exists.decode(Bool.self) { hasTable = value }
        guard hasTable else { return migrations }

        let rows = try await connection.statement(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            logger: logger
        )
        var applied: [Int: (String, String)] = [:]
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            applied[version] = (name, checksum)
        }
        let known = Dictionary(uniqueKeysWithValues: migrations.map { ($0.version, $0) })
        let newest = migrations.map(\.version).max() ?? 0
        for (version, (name, checksum)) in applied.sorted(by: { $0.key < $1.key }) {
            guard let migration = known[version] else {
                if version > newest { continue }
                throw MigrationError.unknownApplied(version: version)
            }
            guard migration.checksum == checksum else {
                throw MigrationError.checksumMismatch(version: version, name: name)
            }
        }
        return migrations.filter { applied[$0.version] == nil }
    }

    private func migrate(connection: PostgresConnection, logger: Logger) async throws -> Outcome {
        try await connection.statement(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        let todo = try await pending(connection: connection, logger: logger)
        for migration in todo {
            logger.info("applying migration", metadata: ["migration": "\(migration.name)"])
            do {
                try await connection.transaction(logger: logger) { connection in
                    // The extended query protocol takes one statement; PL/pgSQL's EXECUTE runs the whole file.
                    try await connection.statement(
                        "DO $charter_migration$ BEGIN EXECUTE \(unescaped: Self.quoteLiteral(migration.sql)); END $charter_migration$",
                        logger: logger
                    )
                    try await connection.statement(
                        """
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """,
                        logger: logger
                    )
                }
            } catch {
                let message = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
                throw MigrationError.failed(name: migration.name, message: message)
            }
        }
        return Outcome(applied: todo, alreadyApplied: migrations.count - todo.count)
    }

    /// A standard SQL string literal: `'` doubled, wrapped in quotes (standard_conforming_strings is on).
    static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
