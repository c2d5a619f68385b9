package import CharterCore
package import Logging
package import PostgresNIO

/// A connection handed to repositories: inside a transaction that ``Database`` opened and scoped, or, for
/// single-statement reads of authentication, outside one.
///
/// Only ``Database`` creates one, after it has set the tenant; repositories take a transaction, never the client.
package struct Transaction: Sendable {
    package let connection: PostgresConnection
    package let logger: Logger

    package var msps: MSPRepository { MSPRepository(tx: self) }
    package var tenants: TenantRepository { TenantRepository(tx: self) }
    package var apiKeys: APIKeyRepository { APIKeyRepository(tx: self) }
    package var audit: AuditLog { AuditLog(tx: self) }
    package var people: PeopleRepository { PeopleRepository(tx: self) }
    package var sessions: SessionRepository { SessionRepository(tx: self) }

    /// Runs a statement and returns its rows.
    @discardableResult
    package func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await connection.statement(query, logger: logger)
    }
}

extension Transaction {
    /// Selects a tenant created in this same transaction (its first audit event must be written inside it).
    package func enterTenant(_ tenant: TenantID) async throws {
        try await query("SELECT set_config('charter.tenant_id', \(tenant.description), true)")
    }

    /// Selects no tenant again, leaving the transaction's MSP: for an MSP-wide write that follows a tenant's.
    package func leaveTenant() async throws {
        try await query("SELECT set_config('charter.tenant_id', '', true)")
    }
}
