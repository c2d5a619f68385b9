import CharterStore
import Foundation
import PostgresNIO
import Testing

@Suite("Migrations")
struct MigratorTests {
    /// A fresh database of its own, so editing migrations cannot disturb other suites.
    static func withScratchDatabase(_ body: @Sendable (String) async throws -> Void) async throws {
        let name = "charter_migrations_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12))"
        try await TestDatabase.with(TestDatabase.ownerURL) { owner in
            try await owner.client.query("CREATE DATABASE \(unescaped: name)", logger: TestDatabase.logger)
        }
        var components = URLComponents(string: TestDatabase.ownerURL)!
        components.path = "/\(name)"
        do {
            try await body(components.string!)
        } catch {
            try? await dropDatabase(name)
            throw error
        }
        try await dropDatabase(name)
    }

    static func dropDatabase(_ name: String) async throws {
        try await TestDatabase.with(TestDatabase.ownerURL) { owner in
            try await owner.client.query("DROP DATABASE \(unescaped: name) WITH (FORCE)", logger: TestDatabase.logger)
        }
    }

    @Test("the bundled migrations are numbered, unique and in order")
    func bundledMigrations() throws {
        let migrations = try Migration.bundled()
        #expect(!migrations.isEmpty)
        #expect(migrations.map(\.version) == Array(1...migrations.count))
    }

    @Test("a second run applies nothing; replicas migrating together apply each migration once")
    func idempotentAndSerialised() async throws {
        try await Self.withScratchDatabase { url in
            let migrations = try Migration.bundled()
            try await TestDatabase.with(url) { database in
                let outcomes = try await withThrowingTaskGroup(of: Migrator.Outcome.self) { group in
                    for _ in 0..<3 {
                        group.addTask {
                            try await Migrator(migrations: migrations).migrate(client: database.client, logger: TestDatabase.logger)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.map(\.applied.count).reduce(0, +) == migrations.count)
                let again = try await Migrator(migrations: migrations).migrate(client: database.client, logger: TestDatabase.logger)
                #expect(again.applied.isEmpty)
                #expect(again.alreadyApplied == migrations.count)
            }
        }
    }

    @Test("a build older than the database finds nothing to migrate (and readiness, which asks the same, passes); one lacking an earlier migration is refused")
    func newerDatabase() async throws {
        try await Self.withScratchDatabase { url in
            let migrations = try Migration.bundled()
            try await TestDatabase.with(url) { database in
                let logger = TestDatabase.logger
                _ = try await Migrator(migrations: migrations).migrate(client: database.client, logger: logger)
                let older = try await Migrator(migrations: Array(migrations.dropLast())).migrate(client: database.client, logger: logger)
                #expect(older.applied.isEmpty)
                #expect(older.alreadyApplied == migrations.count - 1)
                await #expect(throws: MigrationError.unknownApplied(version: 2)) {
                    try await Migrator(migrations: migrations.filter { $0.version != 2 }).migrate(client: database.client, logger: logger)
                }
            }
        }
    }

    @Test("an applied migration that was edited is refused with a clear error")
    func editedMigrationRefused() async throws {
        try await Self.withScratchDatabase { url in
            let migrations = try Migration.bundled()
            var edited = migrations
            edited[0].sql += "\n-- edited\n"
            let editedMigrations = edited
            try await TestDatabase.with(url) { database in
                _ = try await Migrator(migrations: migrations).migrate(client: database.client, logger: TestDatabase.logger)
                let edited = editedMigrations
                await #expect(throws: MigrationError.checksumMismatch(version: 1, name: edited[0].name)) {
                    try await Migrator(migrations: edited).migrate(client: database.client, logger: TestDatabase.logger)
                }
            }
        }
    }

    @Test("a failing migration changes nothing and names itself")
    func failingMigrationRollsBack() async throws {
        try await Self.withScratchDatabase { url in
            var migrations = try Migration.bundled()
            migrations.append(Migration(version: migrations.count + 1, name: "9999_broken",
                                        sql: "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;"))
            let all = migrations
            try await TestDatabase.with(url) { database in
                await #expect(throws: MigrationError.self) {
                    try await Migrator(migrations: all).migrate(client: database.client, logger: TestDatabase.logger)
                }
                let rows = try await database.client.query(
                    "SELECT to_regclass('public.half_done') IS NULL", logger: TestDatabase.logger)
                for try await absent in rows.decode(Bool.self) { #expect(absent) }
            }
        }
    }
}
