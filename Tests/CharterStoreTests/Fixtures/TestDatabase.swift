import CharterCore
import CharterStore
import Foundation
import Logging
import PostgresNIO

/// The real PostgreSQL that scripts/test starts, reached through environment variables.
enum TestDatabase {
    static let logger = Logger(label: "charter.tests")

    static func url(_ name: String) -> String {
        guard let url = ProcessInfo.processInfo.environment[name] else {
            fatalError("\(name) is not set: run the tests through scripts/test, which starts PostgreSQL")
        }
        return url
    }

    /// The service's role: bound by row-level security.
    static var appURL: String { url("CHARTER_TEST_DATABASE_URL") }
    /// The schema owner: runs migrations and fixtures.
    static var ownerURL: String { url("CHARTER_TEST_MIGRATION_DATABASE_URL") }

    /// Runs `body` with a started client for `url`, migrating first (idempotent, under the advisory lock).
    @discardableResult
    static func with<Result: Sendable>(
        _ url: String,
        _ body: @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        let client = PostgresClient(configuration: try DatabaseURL.configuration(from: url), backgroundLogger: logger)
        return try await client.whileRunning { try await body(Database(client: client)) }
    }

    static func migrate() async throws {
        try await with(ownerURL) { database in
            _ = try await Migrator(migrations: Migration.bundled()).migrate(client: database.client, logger: logger)
        }
    }

    /// A new MSP with two tenants, made as the owner.
    static func makeMSP(tenants count: Int = 2) async throws -> (MSPID, [TenantID]) {
        try await migrate()
        return try await with(ownerURL) { database in
            // Row-level security is forced: the owner, too, writes only into the MSP it selected.
            let now = Date()
            let msp = MSP(id: .random(), name: "Test MSP \(UUID())", createdAt: now)
            return try await database.withMSP(msp.id, logger: logger) { tx in
                try await tx.msps.create(msp)
                var tenants: [TenantID] = []
                for index in 0..<count {
                    let tenant = Tenant(id: .random(), mspID: msp.id, name: "Tenant \(index)", version: 1,
                                        createdAt: now, updatedAt: now)
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
    static func acrossTenants<Result: Sendable>(_ body: @Sendable (Transaction) async throws -> Result) async throws -> Result {
        try await with(ownerURL) { database in
            try await database.withoutTenant(logger: logger) { tx in
                try await tx.query("SET LOCAL ROLE charter_definer")
                return try await body(tx)
            }
        }
    }
}
