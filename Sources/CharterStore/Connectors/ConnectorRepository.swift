package import CharterCore
package import Foundation
import PostgresNIO

/// An enrolled on-premises connector as stored (its token only as a hash).
package struct Connector: Hashable, Sendable {
    package var id: ConnectorID
    package var name: String
    package var hostname: String
    package var version: String
    package var protocolVersion: Int
    /// The raw Ed25519 public key: the connector's identity.
    package var signingKey: Data
    package var enrolledAt: Date
    package var lastSeenAt: Date?
    package var lastSeenIP: String?
    /// What the last heartbeat said of the domain controllers, as JSON (an array).
    package var domainControllers: String
    package var revokedAt: Date?
    package var tokenExpiresAt: Date

    package init(
        id: ConnectorID, name: String, hostname: String, version: String, protocolVersion: Int, signingKey: Data,
        enrolledAt: Date, lastSeenAt: Date? = nil, lastSeenIP: String? = nil, domainControllers: String = "[]",
        revokedAt: Date? = nil, tokenExpiresAt: Date
    ) {
        self.id = id
        self.name = name
        self.hostname = hostname
        self.version = version
        self.protocolVersion = protocolVersion
        self.signingKey = signingKey
        self.enrolledAt = enrolledAt
        self.lastSeenAt = lastSeenAt
        self.lastSeenIP = lastSeenIP
        self.domainControllers = domainControllers
        self.revokedAt = revokedAt
        self.tokenExpiresAt = tokenExpiresAt
    }
}

/// A tenant's connectors, and the leases by which one of them is active for a directory connection.
package struct ConnectorRepository: Sendable {
    let tx: Transaction

    /// What connector authentication needs to know before any tenant is selected.
    package struct Credential: Sendable {
        package var tokenHash: [UInt8]
        package var tokenExpiresAt: Date
        /// The token a renewal replaced, valid until its own expiry.
        package var previousTokenHash: [UInt8]?
        package var previousTokenExpiresAt: Date?
        /// The connector's tenant and its MSP, read together.
        package var binding: TenantBinding
    }

    /// The key a connector signs challenges with, and where it lives.
    package struct SigningIdentity: Sendable {
        package var signingKey: Data
        package var binding: TenantBinding
    }

    /// A connector that is not revoked, of a live tenant, looked up across tenants.
    package func credential(for id: ConnectorID) async throws -> Credential? {
        let rows = try await tx.query(
            """
            SELECT token_hash, token_expires_at, previous_token_hash, previous_token_expires_at, tenant_id, msp_id
            FROM charter_private.connector_session(\(id.rawValue))
            """
        )
        for try await (hash, expiresAt, previousHash, previousExpiresAt, tenant, msp) in rows.decode(
            (Data, Date, Data?, Date?, UUID, UUID).self
        ) {
            return Credential(
                tokenHash: Array(hash), tokenExpiresAt: expiresAt, previousTokenHash: previousHash.map(Array.init),
                previousTokenExpiresAt: previousExpiresAt, binding: TenantBinding(tenant: TenantID(tenant), msp: MSPID(msp))
            )
        }
        return nil
    }

    /// The signing key of a connector that is not revoked, looked up across tenants.
    package func signingIdentity(for id: ConnectorID) async throws -> SigningIdentity? {
        let rows = try await tx.query(
            "SELECT signing_key, tenant_id, msp_id FROM charter_private.connector_signing_key(\(id.rawValue))"
        )
        for try await (key, tenant, msp) in rows.decode((Data, UUID, UUID).self) {
            return SigningIdentity(signingKey: key, binding: TenantBinding(tenant: TenantID(tenant), msp: MSPID(msp)))
        }
        return nil
    }

    /// A directory connection a connector serves, and whether this connector holds its lease.
    package struct Assignment: Sendable, Hashable {
        package var connection: DirectoryConnectionID
        package var name: String
        package var isActive: Bool
        /// When the lease of the active connector (this one or another) runs out; `nil` when none holds it.
        package var leaseExpiresAt: Date?
    }

    /// The last run a connector was assigned (the one it uploads, or uploaded, for a connection).
    package struct LastSync: Sendable, Hashable {
        package var run: SyncRunID
        package var connection: DirectoryConnectionID
        package var status: SyncRun.Status
        package var startedAt: Date
        package var finishedAt: Date?
        package var error: String?
    }

    private typealias Row = (UUID, String, String, String, Int, Data, Date, Date?, String?, String, Date?, Date)
    private static let columns = """
        SELECT id, name, hostname, version, protocol_version, signing_key, enrolled_at, last_seen_at, last_seen_ip,
               domain_controllers::text, revoked_at, token_expires_at
        FROM connectors
        """

    private static func connector(_ row: Row) -> Connector {
        Connector(
            id: ConnectorID(row.0), name: row.1, hostname: row.2, version: row.3, protocolVersion: row.4,
            signingKey: row.5, enrolledAt: row.6, lastSeenAt: row.7, lastSeenIP: row.8, domainControllers: row.9,
            revokedAt: row.10, tokenExpiresAt: row.11
        )
    }

    package func get(_ tenant: TenantID, id: ConnectorID) async throws -> Connector {
        let rows = try await tx.query(
            "\(unescaped: Self.columns) WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue)"
        )
        for try await row in rows.decode(Row.self) { return Self.connector(row) }
        throw StoreError.notFound
    }

    /// A page of the tenant's connectors, revoked ones included, by id.
    package func list(_ tenant: TenantID, after cursor: ConnectorID?, limit: Int) async throws -> [Connector] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE tenant_id = \(tenant.rawValue) AND (\(cursor?.rawValue)::uuid IS NULL OR id > \(cursor?.rawValue))
            ORDER BY id LIMIT \(limit)
            """
        )
        var connectors: [Connector] = []
        for try await row in rows.decode(Row.self) { connectors.append(Self.connector(row)) }
        return connectors
    }

    /// Whether a connector of the tenant other than `excluding` registered `signingKey`.
    package func isSigningKeyTaken(_ tenant: TenantID, _ signingKey: Data, excluding: ConnectorID?) async throws -> Bool {
        let rows = try await tx.query(
            """
            SELECT 1 FROM connectors
            WHERE tenant_id = \(tenant.rawValue) AND signing_key = \(signingKey)
              AND (\(excluding?.rawValue)::uuid IS NULL OR id <> \(excluding?.rawValue))
            """
        )
        for try await _ in rows { return true }
        return false
    }

    package func create(
        _ connector: Connector, in tenant: TenantID, tokenHash: [UInt8], enrollmentToken: EnrollmentTokenID
    ) async throws {
        try await tx.query(
            """
            INSERT INTO connectors (tenant_id, id, name, hostname, version, protocol_version, signing_key, token_hash,
                                    token_expires_at, enrollment_token_id, enrolled_at)
            VALUES (\(tenant.rawValue), \(connector.id.rawValue), \(connector.name), \(connector.hostname),
                    \(connector.version), \(connector.protocolVersion), \(connector.signingKey), \(Data(tokenHash)),
                    \(connector.tokenExpiresAt), \(enrollmentToken.rawValue), \(connector.enrolledAt))
            """
        )
    }

    /// Replaces the key, token, name, host name and version of a connector that is not revoked (re-enrollment
    /// on proof by its current key); the replaced token stops working at once.
    package func reenroll(
        _ connector: Connector, in tenant: TenantID, tokenHash: [UInt8], enrollmentToken: EnrollmentTokenID
    ) async throws {
        try await tx.query(
            """
            UPDATE connectors SET name = \(connector.name), hostname = \(connector.hostname),
                version = \(connector.version), protocol_version = \(connector.protocolVersion),
                signing_key = \(connector.signingKey), token_hash = \(Data(tokenHash)),
                token_expires_at = \(connector.tokenExpiresAt), previous_token_hash = NULL,
                previous_token_expires_at = NULL, enrollment_token_id = \(enrollmentToken.rawValue)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(connector.id.rawValue) AND revoked_at IS NULL
            """
        )
    }

    /// Gives a connector a new token (renewal); the one it replaces keeps working until its own expiry.
    package func renewToken(_ tenant: TenantID, id: ConnectorID, tokenHash: [UInt8], expiresAt: Date) async throws {
        try await tx.query(
            """
            UPDATE connectors SET previous_token_hash = token_hash, previous_token_expires_at = token_expires_at,
                token_hash = \(Data(tokenHash)), token_expires_at = \(expiresAt)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
            """
        )
    }

    /// Revokes a connector: its tokens stop working at once and the leases it holds end, so another connector
    /// takes its connections over at its next heartbeat. Revoking a revoked connector changes nothing.
    ///
    /// - Returns: The connector as it is now, and whether this call revoked it.
    package func revoke(_ tenant: TenantID, id: ConnectorID, at now: Date) async throws -> (Connector, revoked: Bool) {
        let rows = try await tx.query(
            """
            UPDATE connectors SET revoked_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
            RETURNING id
            """
        )
        var revoked = false
        for try await _ in rows { revoked = true }
        if revoked {
            try await tx.query(
                "DELETE FROM connector_leases WHERE tenant_id = \(tenant.rawValue) AND connector_id = \(id.rawValue)"
            )
        }
        return (try await get(tenant, id: id), revoked)
    }

    /// Records a heartbeat: when and from where the connector was heard, its host name and version, and what it
    /// found of its domain controllers (a JSON array). The row stays locked until commit, so a revocation waits
    /// for the leases this transaction takes and then ends them.
    ///
    /// - Returns: Whether the connector is still enrolled (not revoked meanwhile).
    package func recordHeartbeat(
        _ tenant: TenantID, id: ConnectorID, hostname: String, version: String, protocolVersion: Int, ip: String?,
        domainControllers: String, at now: Date
    ) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE connectors SET last_seen_at = \(now), last_seen_ip = \(ip), hostname = \(hostname),
                version = \(version), protocol_version = \(protocolVersion), domain_controllers = \(domainControllers)::jsonb
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
            RETURNING id
            """
        )
        for try await _ in rows { return true }
        return false
    }

    /// For every `connector`-mode connection that names the connector, in one statement: renews the lease when
    /// this connector holds it, takes it when none holds it or the holder's has run out, and answers what each
    /// connection's lease now is.
    ///
    /// Two connectors heartbeating at once for a run-out lease are serialised by the lease row: the second sees
    /// the first one's fresh lease and leaves it.
    package func holdLeases(
        _ tenant: TenantID, connector: ConnectorID, until expiresAt: Date, now: Date
    ) async throws -> [Assignment] {
        let rows = try await tx.query(
            """
            WITH served AS (
                SELECT s.connection_id, c.name
                FROM directory_connection_connectors s
                JOIN directory_connections c ON c.tenant_id = s.tenant_id AND c.id = s.connection_id
                WHERE s.tenant_id = \(tenant.rawValue) AND s.connector_id = \(connector.rawValue) AND c.mode = 'connector'
            ), held AS (
                INSERT INTO connector_leases AS l (tenant_id, connection_id, connector_id, expires_at)
                -- In one order for every connector, so two heartbeats cannot wait for each other's rows.
                SELECT \(tenant.rawValue), connection_id, \(connector.rawValue), \(expiresAt) FROM served
                ORDER BY connection_id
                ON CONFLICT (tenant_id, connection_id) DO UPDATE
                    SET connector_id = excluded.connector_id, expires_at = excluded.expires_at
                    WHERE l.connector_id = excluded.connector_id OR l.expires_at <= \(now)
                RETURNING l.connection_id, l.expires_at
            )
            SELECT s.connection_id, s.name, h.connection_id IS NOT NULL,
                   coalesce(h.expires_at, CASE WHEN o.expires_at > \(now) THEN o.expires_at END)
            FROM served s
            LEFT JOIN held h ON h.connection_id = s.connection_id
            LEFT JOIN connector_leases o ON o.tenant_id = \(tenant.rawValue) AND o.connection_id = s.connection_id
            ORDER BY s.name, s.connection_id
            """
        )
        var assignments: [Assignment] = []
        for try await (connection, name, active, expires) in rows.decode((UUID, String, Bool, Date?).self) {
            assignments.append(
                Assignment(
                    connection: DirectoryConnectionID(connection), name: name, isActive: active, leaseExpiresAt: expires
                )
            )
        }
        return assignments
    }

    /// The connections a connector serves, by name, with whether it holds their lease at `now`.
    package func assignments(_ tenant: TenantID, connector: ConnectorID, now: Date) async throws -> [Assignment] {
        let rows = try await tx.query(
            """
            SELECT s.connection_id, c.name, l.connector_id IS NOT DISTINCT FROM s.connector_id AND l.expires_at > \(now),
                   CASE WHEN l.expires_at > \(now) THEN l.expires_at END
            FROM directory_connection_connectors s
            JOIN directory_connections c ON c.tenant_id = s.tenant_id AND c.id = s.connection_id
            LEFT JOIN connector_leases l ON l.tenant_id = s.tenant_id AND l.connection_id = s.connection_id
            WHERE s.tenant_id = \(tenant.rawValue) AND s.connector_id = \(connector.rawValue) AND c.mode = 'connector'
            ORDER BY c.name, s.connection_id
            """
        )
        var assignments: [Assignment] = []
        for try await (connection, name, active, expires) in rows.decode((UUID, String, Bool?, Date?).self) {
            assignments.append(
                Assignment(
                    connection: DirectoryConnectionID(connection), name: name, isActive: active ?? false,
                    leaseExpiresAt: expires
                )
            )
        }
        return assignments
    }

    /// The run most recently assigned to `connector`, `nil` before the first.
    package func lastSync(_ tenant: TenantID, connector: ConnectorID) async throws -> LastSync? {
        let rows = try await tx.query(
            """
            SELECT r.id, r.connection_id, r.status, r.started_at, r.finished_at, r.error
            FROM connector_uploads u
            JOIN directory_sync_runs r ON r.tenant_id = u.tenant_id AND r.id = u.run_id
            WHERE u.tenant_id = \(tenant.rawValue) AND u.connector_id = \(connector.rawValue)
            ORDER BY u.assigned_at DESC LIMIT 1
            """
        )
        for try await (run, connection, status, started, finished, error) in rows.decode(
            (UUID, UUID, String, Date, Date?, String?).self
        ) {
            guard let status = SyncRun.Status(rawValue: status) else { return nil }
            return LastSync(
                run: SyncRunID(run), connection: DirectoryConnectionID(connection), status: status, startedAt: started,
                finishedAt: finished, error: error
            )
        }
        return nil
    }

    /// The tenant's `connector` feed entries that name `connector`, after `sequence`, oldest first.
    package func commands(
        _ tenant: TenantID, for connector: ConnectorID, after sequence: Int64, limit: Int
    ) async throws -> [ChangeFeedEntry] {
        let rows = try await tx.query(
            """
            SELECT seq, data FROM change_feed
            WHERE tenant_id = \(tenant.rawValue) AND seq > \(sequence) AND event = 'connector'
              AND \(connector.rawValue) = ANY(device_ids)
            ORDER BY seq LIMIT \(limit)
            """
        )
        var entries: [ChangeFeedEntry] = []
        for try await (seq, data) in rows.decode((Int64, String).self) {
            entries.append(
                ChangeFeedEntry(
                    sequence: seq, tenant: tenant, event: .connector, devices: [DeviceID(connector.rawValue)], data: data
                )
            )
        }
        return entries
    }
}

extension Transaction {
    package var connectors: ConnectorRepository { ConnectorRepository(tx: self) }
}
