package import CharterCore
import Foundation
import PostgresNIO

/// One tenant's directory connections.
package struct DirectoryConnectionRepository: Sendable {
    let tx: Transaction
    let tenantID: TenantID

    private typealias Row = (
        UUID, UUID, String, String, [String]?, String?, String?, String?, String?, String?, Int32, Int32, Int32, Bool,
        Int64, Date, Date, [UUID], UUID?
    )

    /// The connection's columns, its connectors in order and the connector holding an unexpired lease.
    private static let columns = """
        d.id, d.tenant_id, d.name, d.mode, d.urls, d.base_dn, d.bind_dn, d.bind_password_sealed, d.tls_mode,
        d.ca_pem, d.interval_seconds, d.deletion_threshold_objects, d.deletion_threshold_percent, d.enabled,
        d.version, d.created_at, d.updated_at,
        ARRAY(SELECT c.connector_id FROM directory_connection_connectors c
              WHERE c.tenant_id = d.tenant_id AND c.connection_id = d.id ORDER BY c.position),
        (SELECT l.connector_id FROM connector_leases l
         WHERE l.tenant_id = d.tenant_id AND l.connection_id = d.id AND l.expires_at > now())
        """

    private static func connection(_ row: Row) -> DirectoryConnection {
        let transport: DirectoryConnection.Transport =
            if row.3 == "connector" {
                .connector(row.17.map(ConnectorID.init))
            } else {
                .direct(
                    DirectoryConnection.LDAPSettings(
                        urls: row.4 ?? [], baseDN: row.5 ?? "", bindDN: row.6 ?? "", sealedPassword: row.7 ?? "",
                        tlsMode: row.8.flatMap(DirectoryConnection.TLSMode.init) ?? .ldaps, caPEM: row.9
                    )
                )
            }
        return DirectoryConnection(
            id: DirectoryConnectionID(row.0), tenantID: TenantID(row.1), name: row.2, transport: transport,
            interval: .seconds(Int64(row.10)),
            deletionThreshold: DeletionThreshold(objects: Int(row.11), percent: Int(row.12)), isEnabled: row.13,
            version: row.14, createdAt: row.15, updatedAt: row.16,
            activeConnectorID: row.3 == "connector" ? row.18.map(ConnectorID.init) : nil
        )
    }

    /// Stores a new connection (and its connectors) and its job row, due at once.
    package func create(_ connection: DirectoryConnection, msp: MSPID) async throws {
        let ldap = connection.ldap
        try await tx.query(
            """
            INSERT INTO directory_connections (tenant_id, id, name, mode, urls, base_dn, bind_dn, bind_password_sealed,
                tls_mode, ca_pem, interval_seconds, deletion_threshold_objects, deletion_threshold_percent, enabled,
                version, created_at, updated_at)
            VALUES (\(tenantID.rawValue), \(connection.id.rawValue), \(connection.name), \(connection.transport.mode),
                \(ldap?.urls)::text[], \(ldap?.baseDN), \(ldap?.bindDN), \(ldap?.sealedPassword),
                \(ldap?.tlsMode.rawValue), \(ldap?.caPEM), \(Int32(connection.interval.components.seconds)),
                \(Int32(connection.deletionThreshold.objects)), \(Int32(connection.deletionThreshold.percent)),
                \(connection.isEnabled), \(connection.version), \(connection.createdAt), \(connection.updatedAt))
            """
        )
        try await replaceConnectors(of: connection.id, with: connection.connectorIDs)
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
            SELECT \(unescaped: Self.columns) FROM directory_connections d
            WHERE d.tenant_id = \(tenantID.rawValue) AND d.id = \(id.rawValue)
            """
        )
        for try await row in rows.decode(Row.self) { return Self.connection(row) }
        throw StoreError.notFound
    }

    /// A page of connections ordered by id, after `cursor`.
    package func list(after cursor: DirectoryConnectionID?, limit: Int) async throws -> [DirectoryConnection] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_connections d
            WHERE d.tenant_id = \(tenantID.rawValue)
              AND (\(cursor?.rawValue)::uuid IS NULL OR d.id > \(cursor?.rawValue))
            ORDER BY d.id LIMIT \(limit)
            """
        )
        var connections: [DirectoryConnection] = []
        for try await row in rows.decode(Row.self) { connections.append(Self.connection(row)) }
        return connections
    }

    /// Replaces a connection's settings (its mode and connectors included) if its version still is
    /// `expectedVersion` (when given).
    ///
    /// - Throws: ``StoreError/versionMismatch(current:)`` when it changed since it was read.
    package func update(_ connection: DirectoryConnection, expectedVersion: Int64?) async throws
        -> DirectoryConnection
    {
        let current = try await get(connection.id)
        if let expectedVersion, expectedVersion != current.version {
            throw StoreError.versionMismatch(current: current.version)
        }
        let ldap = connection.ldap
        let rows = try await tx.query(
            """
            UPDATE directory_connections SET name = \(connection.name), mode = \(connection.transport.mode),
                urls = \(ldap?.urls)::text[], base_dn = \(ldap?.baseDN), bind_dn = \(ldap?.bindDN),
                bind_password_sealed = \(ldap?.sealedPassword), tls_mode = \(ldap?.tlsMode.rawValue),
                ca_pem = \(ldap?.caPEM), interval_seconds = \(Int32(connection.interval.components.seconds)),
                deletion_threshold_objects = \(Int32(connection.deletionThreshold.objects)),
                deletion_threshold_percent = \(Int32(connection.deletionThreshold.percent)),
                enabled = \(connection.isEnabled), version = version + 1, updated_at = \(connection.updatedAt)
            WHERE tenant_id = \(tenantID.rawValue) AND id = \(connection.id.rawValue) AND version = \(current.version)
            RETURNING id
            """
        )
        var updated = false
        for try await _ in rows.decode(UUID.self) { updated = true }
        guard updated else { throw StoreError.versionMismatch(current: current.version) }
        if connection.connectorIDs != current.connectorIDs {
            try await replaceConnectors(of: connection.id, with: connection.connectorIDs)
        }
        return try await get(connection.id)
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

    /// Sets the connectors that serve a connection, in order; a lease held by a connector no longer named goes.
    private func replaceConnectors(of id: DirectoryConnectionID, with connectors: [ConnectorID]) async throws {
        let ids = connectors.map(\.rawValue)
        try await tx.query(
            """
            DELETE FROM directory_connection_connectors
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(id.rawValue)
            """
        )
        try await tx.query(
            """
            DELETE FROM connector_leases
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(id.rawValue)
              AND NOT (connector_id = ANY(\(ids)::uuid[]))
            """
        )
        guard !ids.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO directory_connection_connectors (tenant_id, connection_id, connector_id, position)
            SELECT \(tenantID.rawValue), \(id.rawValue), connector, (position - 1)::integer
            FROM unnest(\(ids)::uuid[]) WITH ORDINALITY AS u (connector, position)
            """
        )
    }
}
