package import CharterCore
package import Foundation
import PostgresNIO

/// A run of a `connector` connection waiting for, or holding, a connector's upload (connector_uploads).
package struct ConnectorUpload: Sendable, Hashable {
    package enum State: String, Sendable, Hashable, CaseIterable {
        /// Assigned to ``ConnectorUpload/connectorID``; pages arriving.
        case waiting
        /// Every page held and the completion recorded: the engine merges it.
        case complete
        /// The connector reported an error.
        case failed
    }

    package var runID: SyncRunID
    package var connectionID: DirectoryConnectionID
    package var connectorID: ConnectorID
    package var state: State
    package var requestedKind: SyncRun.Kind
    /// The `complete` body as the connector sent it (JSON), once complete.
    package var completion: String?
    /// What the connector reported, once failed.
    package var error: String?
    package var deadlineAt: Date
    package var assignedAt: Date
    package var updatedAt: Date

    package init(
        runID: SyncRunID, connectionID: DirectoryConnectionID, connectorID: ConnectorID, state: State,
        requestedKind: SyncRun.Kind, completion: String? = nil, error: String? = nil, deadlineAt: Date,
        assignedAt: Date, updatedAt: Date
    ) {
        self.runID = runID
        self.connectionID = connectionID
        self.connectorID = connectorID
        self.state = state
        self.requestedKind = requestedKind
        self.completion = completion
        self.error = error
        self.deadlineAt = deadlineAt
        self.assignedAt = assignedAt
        self.updatedAt = updatedAt
    }
}

/// One stored page of an upload: as sent, and the SHA-256 of its decompressed bytes.
package struct ConnectorUploadPage: Sendable, Hashable {
    package var page: Int
    package var sha256: Data
    package var isGzip: Bool
    package var body: Data
    /// Objects plus deletions on the page.
    package var objects: Int

    package init(page: Int, sha256: Data, isGzip: Bool, body: Data, objects: Int) {
        self.page = page
        self.sha256 = sha256
        self.isGzip = isGzip
        self.body = body
        self.objects = objects
    }
}

/// What the sync engine reads on each tick while it waits for an upload.
package struct ConnectorUploadProgress: Sendable, Hashable {
    package var state: ConnectorUpload.State
    /// The connector the run is assigned to, and its name.
    package var connectorID: ConnectorID
    package var connectorName: String
    package var error: String?
    /// The connector holding an unexpired lease on the run's connection, if any.
    package var activeConnectorID: ConnectorID?

    package init(
        state: ConnectorUpload.State, connectorID: ConnectorID, connectorName: String, error: String?,
        activeConnectorID: ConnectorID?
    ) {
        self.state = state
        self.connectorID = connectorID
        self.connectorName = connectorName
        self.error = error
        self.activeConnectorID = activeConnectorID
    }
}

/// A connector as a directory connection's checks and messages need it.
package struct ConnectorPresence: Sendable, Hashable {
    package var id: ConnectorID
    package var name: String
    package var lastSeenAt: Date?
    package var isRevoked: Bool

    package init(id: ConnectorID, name: String, lastSeenAt: Date?, isRevoked: Bool) {
        self.id = id
        self.name = name
        self.lastSeenAt = lastSeenAt
        self.isRevoked = isRevoked
    }
}

/// One tenant's connector uploads and their pages (docs/connector-protocol.md, "Upload", "Finish").
package struct ConnectorUploadRepository: Sendable {
    let tx: Transaction
    let tenantID: TenantID

    private typealias Row = (UUID, UUID, UUID, String, String, String?, String?, Date, Date, Date)

    private static let columns = """
        u.run_id, u.connection_id, u.connector_id, u.state, u.requested_kind, u.completion::text, u.error,
        u.deadline_at, u.assigned_at, u.updated_at
        """

    private static func upload(_ row: Row) -> ConnectorUpload {
        ConnectorUpload(
            runID: SyncRunID(row.0), connectionID: DirectoryConnectionID(row.1), connectorID: ConnectorID(row.2),
            state: ConnectorUpload.State(rawValue: row.3) ?? .failed, requestedKind: SyncRun.Kind(rawValue: row.4) ?? .full,
            completion: row.5, error: row.6, deadlineAt: row.7, assignedAt: row.8, updatedAt: row.9
        )
    }

    /// Records a run as waiting for `upload.connectorID`'s upload.
    package func insert(_ upload: ConnectorUpload) async throws {
        try await tx.query(
            """
            INSERT INTO connector_uploads (tenant_id, run_id, connection_id, connector_id, state, requested_kind,
                deadline_at, assigned_at, updated_at)
            VALUES (\(tenantID.rawValue), \(upload.runID.rawValue), \(upload.connectionID.rawValue),
                \(upload.connectorID.rawValue), \(upload.state.rawValue), \(upload.requestedKind.rawValue),
                \(upload.deadlineAt), \(upload.assignedAt), \(upload.updatedAt))
            """
        )
    }

    /// The upload of a run, locked against concurrent page writes, completion and reassignment when `locking`.
    package func get(_ run: SyncRunID, locking: Bool = false) async throws -> ConnectorUpload? {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM connector_uploads u
            WHERE u.tenant_id = \(tenantID.rawValue) AND u.run_id = \(run.rawValue)
            \(unescaped: locking ? "FOR UPDATE" : "")
            """
        )
        for try await row in rows.decode(Row.self) { return Self.upload(row) }
        return nil
    }

    /// The runs assigned to `connector` that wait for its upload, oldest first, with the pages held of each.
    package func waiting(for connector: ConnectorID) async throws -> [(upload: ConnectorUpload, pagesReceived: Int)] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns),
                (SELECT count(*) FROM connector_upload_pages p
                 WHERE p.tenant_id = u.tenant_id AND p.run_id = u.run_id)
            FROM connector_uploads u
            JOIN directory_sync_runs r ON r.tenant_id = u.tenant_id AND r.id = u.run_id AND r.status = 'running'
            WHERE u.tenant_id = \(tenantID.rawValue) AND u.connector_id = \(connector.rawValue)
              AND u.state = 'waiting'
            ORDER BY u.assigned_at
            """
        )
        var waiting: [(upload: ConnectorUpload, pagesReceived: Int)] = []
        for try await row in rows.decode((UUID, UUID, UUID, String, String, String?, String?, Date, Date, Date, Int64).self) {
            let upload = Self.upload((row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9))
            waiting.append((upload, Int(row.10)))
        }
        return waiting
    }

    /// Where a waiting run stands: one short read per tick of the engine's wait.
    package func progress(of run: SyncRunID) async throws -> ConnectorUploadProgress? {
        let rows = try await tx.query(
            """
            SELECT u.state, u.connector_id, c.name, u.error,
                (SELECT l.connector_id FROM connector_leases l
                 WHERE l.tenant_id = u.tenant_id AND l.connection_id = u.connection_id AND l.expires_at > now())
            FROM connector_uploads u JOIN connectors c ON c.tenant_id = u.tenant_id AND c.id = u.connector_id
            WHERE u.tenant_id = \(tenantID.rawValue) AND u.run_id = \(run.rawValue)
            """
        )
        for try await row in rows.decode((String, UUID, String, String?, UUID?).self) {
            return ConnectorUploadProgress(
                state: ConnectorUpload.State(rawValue: row.0) ?? .failed, connectorID: ConnectorID(row.1),
                connectorName: row.2, error: row.3, activeConnectorID: row.4.map(ConnectorID.init)
            )
        }
        return nil
    }

    /// Hands a waiting run to another connector: the pages received so far are dropped.
    package func reassign(_ run: SyncRunID, to connector: ConnectorID, at now: Date) async throws {
        try await discardPages(of: run)
        try await tx.query(
            """
            UPDATE connector_uploads SET connector_id = \(connector.rawValue), assigned_at = \(now), updated_at = \(now)
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue) AND state = 'waiting'
            """
        )
    }

    /// The SHA-256 of a stored page's decompressed bytes, or `nil` when the page is not held.
    package func pageDigest(of run: SyncRunID, page: Int) async throws -> Data? {
        let rows = try await tx.query(
            """
            SELECT sha256 FROM connector_upload_pages
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue) AND page = \(Int32(page))
            """
        )
        for try await digest in rows.decode(Data.self) { return digest }
        return nil
    }

    package func insertPage(_ page: ConnectorUploadPage, of run: SyncRunID, at now: Date) async throws {
        try await tx.query(
            """
            INSERT INTO connector_upload_pages (tenant_id, run_id, page, sha256, gzip, body, objects, received_at)
            VALUES (\(tenantID.rawValue), \(run.rawValue), \(Int32(page.page)), \(page.sha256), \(page.isGzip),
                \(page.body), \(Int32(page.objects)), \(now))
            """
        )
    }

    /// The numbers of the pages held for a run, ascending.
    package func pageNumbers(of run: SyncRunID) async throws -> [Int] {
        let rows = try await tx.query(
            """
            SELECT page FROM connector_upload_pages
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue) ORDER BY page
            """
        )
        var pages: [Int] = []
        for try await page in rows.decode(Int32.self) { pages.append(Int(page)) }
        return pages
    }

    /// Every page held for a run, in page order, without its body (`body` is empty): its number, digest and count.
    package func pagesWithoutBodies(of run: SyncRunID) async throws -> [ConnectorUploadPage] {
        let rows = try await tx.query(
            """
            SELECT page, sha256, gzip, ''::bytea, objects FROM connector_upload_pages
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue) ORDER BY page
            """
        )
        return try await Self.pages(rows)
    }

    /// The pages of a run numbered `numbers` that are held, with their bodies, in page order.
    package func pages(of run: SyncRunID, numbered numbers: [Int]) async throws -> [ConnectorUploadPage] {
        let rows = try await tx.query(
            """
            SELECT page, sha256, gzip, body, objects FROM connector_upload_pages
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue)
                AND page = ANY(\(numbers.map { Int32($0) })) ORDER BY page
            """
        )
        return try await Self.pages(rows)
    }

    private static func pages(_ rows: PostgresRowSequence) async throws -> [ConnectorUploadPage] {
        var pages: [ConnectorUploadPage] = []
        for try await row in rows.decode((Int32, Data, Bool, Data, Int32).self) {
            pages.append(
                ConnectorUploadPage(page: Int(row.0), sha256: row.1, isGzip: row.2, body: row.3, objects: Int(row.4))
            )
        }
        return pages
    }

    /// Records a waiting run's completion (the `complete` body as JSON).
    package func complete(_ run: SyncRunID, completion: String, at now: Date) async throws {
        try await tx.query(
            """
            UPDATE connector_uploads SET state = 'complete', completion = \(completion)::jsonb, updated_at = \(now)
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue) AND state = 'waiting'
            """
        )
    }

    /// Records a waiting run as failed at the site.
    package func fail(_ run: SyncRunID, error: String, at now: Date) async throws {
        try await tx.query(
            """
            UPDATE connector_uploads SET state = 'failed', error = \(error), updated_at = \(now)
            WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue) AND state = 'waiting'
            """
        )
    }

    /// Drops a run's pages (after it was merged or ended, or when it moves to another connector).
    package func discardPages(of run: SyncRunID) async throws {
        try await tx.query(
            """
            DELETE FROM connector_upload_pages WHERE tenant_id = \(tenantID.rawValue) AND run_id = \(run.rawValue)
            """
        )
    }

    /// The connector holding an unexpired lease on a connection, if any.
    package func activeConnector(of connection: DirectoryConnectionID) async throws -> ConnectorID? {
        let rows = try await tx.query(
            """
            SELECT connector_id FROM connector_leases
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue) AND expires_at > now()
            """
        )
        for try await id in rows.decode(UUID.self) { return ConnectorID(id) }
        return nil
    }

    /// The tenant's connectors among `ids`, in the order given (unknown ids are left out).
    package func connectors(_ ids: [ConnectorID]) async throws -> [ConnectorPresence] {
        let rows = try await tx.query(
            """
            SELECT id, name, last_seen_at, revoked_at IS NOT NULL FROM connectors
            WHERE tenant_id = \(tenantID.rawValue) AND id = ANY(\(ids.map(\.rawValue))::uuid[])
            """
        )
        var found: [ConnectorID: ConnectorPresence] = [:]
        for try await row in rows.decode((UUID, String, Date?, Bool).self) {
            found[ConnectorID(row.0)] = ConnectorPresence(
                id: ConnectorID(row.0), name: row.1, lastSeenAt: row.2, isRevoked: row.3
            )
        }
        return ids.compactMap { found[$0] }
    }

    /// Whether `connection` names `connector` among the connectors that serve it.
    package func serves(_ connector: ConnectorID, connection: DirectoryConnectionID) async throws -> Bool {
        let rows = try await tx.query(
            """
            SELECT 1 FROM directory_connection_connectors
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue)
              AND connector_id = \(connector.rawValue)
            """
        )
        for try await _ in rows.decode(Int32.self) { return true }
        return false
    }
}

extension Transaction {
    /// The tenant's connector uploads.
    package func connectorUploads(of tenant: TenantID) -> ConnectorUploadRepository {
        ConnectorUploadRepository(tx: self, tenantID: tenant)
    }
}
