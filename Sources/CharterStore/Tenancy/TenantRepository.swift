package import CharterCore
package import Foundation
import PostgresNIO

/// Tenants of the MSP selected on the transaction.
package struct TenantRepository: Sendable {
    let tx: Transaction

    private typealias Row = (UUID, UUID, String, Int64, Date, Date)

    private static func tenant(_ row: Row) -> Tenant {
        Tenant(
            id: TenantID(row.0),
            mspID: MSPID(row.1),
            name: row.2,
            version: row.3,
            createdAt: row.4,
            updatedAt: row.5
        )
    }

    /// Whether the tenant exists, is not deleted and is visible in this transaction's scope.
    package func exists(_ id: TenantID) async throws -> Bool {
        let rows = try await tx.query("SELECT 1 FROM tenants WHERE id = \(id.rawValue) AND deleted_at IS NULL")
        for try await _ in rows { return true }
        return false
    }

    /// Those of `ids` that exist, are not deleted and are visible in this transaction's scope, in one statement
    /// (``exists(_:)`` for many).
    package func existing(_ ids: [TenantID]) async throws -> Set<TenantID> {
        let rows = try await tx.query(
            "SELECT id FROM tenants WHERE id = ANY(\(ids.map(\.rawValue))::uuid[]) AND deleted_at IS NULL"
        )
        var found: Set<TenantID> = []
        for try await id in rows.decode(UUID.self) { found.insert(TenantID(id)) }
        return found
    }

    /// The MSP of a tenant of any MSP, deleted tenants included, for the CLI, which is given only a tenant id.
    ///
    /// Only the schema owner may ask (`charter_private.tenant_msp`, a SECURITY DEFINER function the service role
    /// cannot execute).
    ///
    /// - Throws: ``StoreError/notFound`` when no tenant has the id.
    package func msp(of id: TenantID) async throws -> MSPID {
        let rows = try await tx.query("SELECT charter_private.tenant_msp(\(id.rawValue))")
        for try await msp in rows.decode(UUID?.self) {
            if let msp { return MSPID(msp) }
        }
        throw StoreError.notFound
    }

    package func get(_ id: TenantID) async throws -> Tenant {
        let rows = try await tx.query(
            """
            SELECT id, msp_id, name, version, created_at, updated_at FROM tenants
            WHERE id = \(id.rawValue) AND deleted_at IS NULL
            """
        )
        for try await row in rows.decode(Row.self) { return Self.tenant(row) }
        throw StoreError.notFound
    }

    package func create(_ tenant: Tenant) async throws {
        try await tx.query(
            """
            INSERT INTO tenants (id, msp_id, name, version, created_at, updated_at)
            VALUES (\(tenant.id.rawValue), \(tenant.mspID.rawValue), \(tenant.name), \(tenant.version),
                    \(tenant.createdAt), \(tenant.updatedAt))
            """
        )
    }

    /// A page of tenants ordered by id, starting after `cursor`.
    package func list(msp: MSPID, after cursor: TenantID?, limit: Int) async throws -> [Tenant] {
        let rows = try await tx.query(
            """
            SELECT id, msp_id, name, version, created_at, updated_at FROM tenants
            WHERE msp_id = \(msp.rawValue) AND deleted_at IS NULL
              AND (\(cursor?.rawValue)::uuid IS NULL OR id > \(cursor?.rawValue))
            ORDER BY id LIMIT \(limit)
            """
        )
        var tenants: [Tenant] = []
        for try await row in rows.decode(Row.self) { tenants.append(Self.tenant(row)) }
        return tenants
    }

    /// Renames a tenant if its version still is `expectedVersion` (when given); returns the new state.
    ///
    /// - Throws: ``StoreError/versionMismatch(current:)`` when the tenant changed since it was read.
    package func rename(_ id: TenantID, to name: String, expectedVersion: Int64?, at now: Date) async throws -> Tenant {
        let current = try await get(id)
        if let expectedVersion, expectedVersion != current.version {
            throw StoreError.versionMismatch(current: current.version)
        }
        let rows = try await tx.query(
            """
            UPDATE tenants SET name = \(name), version = version + 1, updated_at = \(now)
            WHERE id = \(id.rawValue) AND version = \(current.version) AND deleted_at IS NULL
            RETURNING id, msp_id, name, version, created_at, updated_at
            """
        )
        for try await row in rows.decode(Row.self) { return Self.tenant(row) }
        throw StoreError.versionMismatch(current: current.version)
    }

    /// Marks a tenant deleted: it disappears from the API and its keys stop working; its data and audit log stay.
    package func delete(_ id: TenantID, expectedVersion: Int64?, at now: Date) async throws -> Tenant {
        let current = try await get(id)
        if let expectedVersion, expectedVersion != current.version {
            throw StoreError.versionMismatch(current: current.version)
        }
        try await tx.query(
            """
            UPDATE tenants SET deleted_at = \(now), version = version + 1, updated_at = \(now)
            WHERE id = \(id.rawValue) AND deleted_at IS NULL
            """
        )
        return current
    }
}
