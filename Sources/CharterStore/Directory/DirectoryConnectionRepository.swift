package import CharterCore
import Foundation
import PostgresNIO

/// One tenant's directory connections.
package struct DirectoryConnectionRepository: Sendable {
    let tx: Transaction
    let tenantID: TenantID

    private typealias Row = (
        UUID, UUID, String, [String], String, String, String, String, String?, Int32, Int32, Int32, Bool, Int64, Date,
        Date
    )

    private static let columns = """
        id, tenant_id, name, urls, base_dn, bind_dn, bind_password_sealed, tls_mode, ca_pem, interval_seconds,
        deletion_threshold_objects, deletion_threshold_percent, enabled, version, created_at, updated_at
        """

    private static func connection(_ row: Row) -> DirectoryConnection {
        DirectoryConnection(
            id: DirectoryConnectionID(row.0), tenantID: TenantID(row.1), name: row.2, urls: row.3, baseDN: row.4,
            bindDN: row.5, sealedPassword: row.6, tlsMode: DirectoryConnection.TLSMode(rawValue: row.7) ?? .ldaps,
            caPEM: row.8, interval: .seconds(Int64(row.9)),
            deletionThreshold: DeletionThreshold(objects: Int(row.10), percent: Int(row.11)), isEnabled: row.12,
            version: row.13, createdAt: row.14, updatedAt: row.15
        )
    }

    /// Stores a new connection and its job row, due at once.
    package func create(_ connection: DirectoryConnection, msp: MSPID) async throws {
        try await tx.query(
            """
            INSERT INTO directory_connections (tenant_id, id, name, urls, base_dn, bind_dn, bind_password_sealed,
                tls_mode, ca_pem, interval_seconds, deletion_threshold_objects, deletion_threshold_percent, enabled,
                version, created_at, updated_at)
            VALUES (\(tenantID.rawValue), \(connection.id.rawValue), \(connection.name), \(connection.urls),
                \(connection.baseDN), \(connection.bindDN), \(connection.sealedPassword),
                \(connection.tlsMode.rawValue), \(connection.caPEM), \(Int32(connection.interval.components.seconds)),
                \(Int32(connection.deletionThreshold.objects)), \(Int32(connection.deletionThreshold.percent)),
                \(connection.isEnabled), \(connection.version), \(connection.createdAt), \(connection.updatedAt))
            """
        )
        try await tx.query(
            """
            INSERT INTO directory_sync_jobs (tenant_id, connection_id, msp_id, next_run_at)
            VALUES (\(tenantID.rawValue), \(connection.id.rawValue), \(msp.rawValue), \(connection.createdAt))
            """
        )
    }

    package func get(_ id: DirectoryConnectionID) async throws -> DirectoryConnection {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_connections
            WHERE tenant_id = \(tenantID.rawValue) AND id = \(id.rawValue)
            """
        )
        for try await row in rows.decode(Row.self) { return Self.connection(row) }
        throw StoreError.notFound
    }

    /// A page of connections ordered by id, after `cursor`.
    package func list(after cursor: DirectoryConnectionID?, limit: Int) async throws -> [DirectoryConnection] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_connections
            WHERE tenant_id = \(tenantID.rawValue) AND (\(cursor?.rawValue)::uuid IS NULL OR id > \(cursor?.rawValue))
            ORDER BY id LIMIT \(limit)
            """
        )
        var connections: [DirectoryConnection] = []
        for try await row in rows.decode(Row.self) { connections.append(Self.connection(row)) }
        return connections
    }

    /// Replaces a connection's settings if its version still is `expectedVersion` (when given).
    ///
    /// - Throws: ``StoreError/versionMismatch(current:)`` when it changed since it was read.
    package func update(_ connection: DirectoryConnection, expectedVersion: Int64?) async throws
        -> DirectoryConnection
    {
        let current = try await get(connection.id)
        if let expectedVersion, expectedVersion != current.version {
            throw StoreError.versionMismatch(current: current.version)
        }
        let rows = try await tx.query(
            """
            UPDATE directory_connections SET name = \(connection.name), urls = \(connection.urls),
                base_dn = \(connection.baseDN), bind_dn = \(connection.bindDN),
                bind_password_sealed = \(connection.sealedPassword), tls_mode = \(connection.tlsMode.rawValue),
                ca_pem = \(connection.caPEM), interval_seconds = \(Int32(connection.interval.components.seconds)),
                deletion_threshold_objects = \(Int32(connection.deletionThreshold.objects)),
                deletion_threshold_percent = \(Int32(connection.deletionThreshold.percent)),
                enabled = \(connection.isEnabled), version = version + 1, updated_at = \(connection.updatedAt)
            WHERE tenant_id = \(tenantID.rawValue) AND id = \(connection.id.rawValue) AND version = \(current.version)
            RETURNING \(unescaped: Self.columns)
            """
        )
        for try await row in rows.decode(Row.self) { return Self.connection(row) }
        throw StoreError.versionMismatch(current: current.version)
    }

    /// Deletes a connection with everything synced through it and its history.
    package func delete(_ id: DirectoryConnectionID, expectedVersion: Int64?) async throws -> DirectoryConnection {
        let current = try await get(id)
        if let expectedVersion, expectedVersion != current.version {
            throw StoreError.versionMismatch(current: current.version)
        }
        try await tx.query(
            "DELETE FROM directory_connections WHERE tenant_id = \(tenantID.rawValue) AND id = \(id.rawValue)"
        )
        return current
    }
}
