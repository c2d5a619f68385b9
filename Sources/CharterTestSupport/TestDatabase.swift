package import CharterCore
package import CharterStore
import Foundation
package import Logging
import PostgresNIO

/// The real PostgreSQL that scripts/test starts, reached through environment variables: the service's role
/// (bound by row-level security) and the schema owner (migrations and fixtures).
package enum TestDatabase {
    /// The logger of the tests' clients and transactions; warnings only, so a run's output stays readable.
    package static let logger: Logger = {
        var logger = Logger(label: "charter.tests")
        logger.logLevel = .warning
        return logger
    }()

    /// The value of the environment variable `name` (a test run without it stops with a hint).
    package static func url(_ name: String) -> String { TestEnvironment.required(name) }

    /// The service's role: bound by row-level security.
    package static var appURL: String { url("CHARTER_TEST_DATABASE_URL") }
    /// The schema owner: runs migrations and fixtures.
    package static var ownerURL: String { url("CHARTER_TEST_MIGRATION_DATABASE_URL") }

    /// Runs `body` with a started client for `url`.
    @discardableResult
    package static func with<Result: Sendable>(
        _ url: String,
        _ body: @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: try DatabaseURL.configuration(from: url), backgroundLogger: logger)
        return try await client.whileRunning { try await body(Database(client: client)) }
    }

    /// Runs `body` with the schema owner's database, migrated first (idempotent, under the advisory lock).
    @discardableResult
    package static func withOwner<Result: Sendable>(
        _ body: @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        try await with(ownerURL) { database in
            _ = try await Migrator(migrations: Migration.bundled()).migrate(client: database.client, logger: logger)
            return try await body(database)
        }
    }

    /// Runs `body` with the service role's database (bound by row-level security), as `charter serve` has it.
    @discardableResult
    package static func withService<Result: Sendable>(
        _ body: @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        try await with(appURL, body)
    }

    /// Brings the schema to the bundled migrations.
    package static func migrate() async throws {
        try await withOwner { _ in }
    }

    /// A new MSP with `count` tenants, made as the owner: each test makes its own, so tests never share rows.
    package static func makeMSP(tenants count: Int = 2) async throws -> (MSPID, [TenantID]) {
        try await withOwner { database in
            // Row-level security is forced: the owner, too, writes only into the MSP it selected.
            let now = Date()
            let msp = MSP(id: .random(), name: "Test MSP \(UUID())", createdAt: now)
            return try await database.withMSP(msp.id, logger: logger) { tx in
                try await tx.msps.create(msp)
                var tenants: [TenantID] = []
                for index in 0..<count {
                    let tenant = Tenant(
                        id: .random(), mspID: msp.id, name: "Tenant \(index)", version: 1, createdAt: now,
                        updatedAt: now
                    )
                    try await tx.tenants.create(tenant)
                    tenants.append(tenant.id)
                }
                return (msp.id, tenants)
            }
        }
    }

    /// Runs `body` as the owner looking across tenants on purpose: row-level security is forced on the owner
    /// too, so it assumes `charter_definer` (whose policies admit the tables the cross-tenant functions read).
    @discardableResult
    package static func acrossTenants<Result: Sendable>(
        _ body: @Sendable (Transaction) async throws -> Result
    ) async throws -> Result {
        try await with(ownerURL) { database in
            try await database.withoutTenant(logger: logger) { tx in
                try await tx.query("SET LOCAL ROLE charter_definer")
                return try await body(tx)
            }
        }
    }
}
