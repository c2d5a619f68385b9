package import CharterCore
import Foundation
import PostgresNIO

/// One tenant's directory sync history.
package struct SyncRunRepository: Sendable {
    let tx: Transaction
    let tenantID: TenantID

    private typealias Row = (
        UUID, UUID, String, String, String, Bool, String?, Date, Date?, Int32, String, Int32?, String?
    )

    private static let columns = """
        id, connection_id, kind, status, trigger, confirm_deletions, domain_controller, started_at, finished_at,
        objects_read, counts::text, pending_deletions, error
        """

    private static func run(_ row: Row) -> SyncRun {
        let counts = (try? JSONDecoder().decode([String: SyncCounts.Tally].self, from: Data(row.10.utf8))) ?? [:]
        return SyncRun(
            id: SyncRunID(row.0), connectionID: DirectoryConnectionID(row.1),
            kind: SyncRun.Kind(rawValue: row.2) ?? .full, status: SyncRun.Status(rawValue: row.3) ?? .failed,
            trigger: SyncRun.Trigger(rawValue: row.4) ?? .api, confirmsDeletions: row.5, domainController: row.6,
            startedAt: row.7, finishedAt: row.8, objectsRead: Int(row.9), counts: SyncCounts(byKind: counts),
            pendingDeletions: row.11.map(Int.init), error: row.12
        )
    }

    /// Records a run as it starts.
    package func insert(_ run: SyncRun) async throws {
        try await tx.query(
            """
            INSERT INTO directory_sync_runs (tenant_id, id, connection_id, kind, status, trigger, confirm_deletions,
                started_at)
            VALUES (\(tenantID.rawValue), \(run.id.rawValue), \(run.connectionID.rawValue), \(run.kind.rawValue),
                \(run.status.rawValue), \(run.trigger.rawValue), \(run.confirmsDeletions), \(run.startedAt))
            """
        )
    }

    /// Records how a run ended (status, kind actually run, DC, counts, error).
    package func finish(_ run: SyncRun) async throws {
        let counts = String(decoding: (try? JSONEncoder().encode(run.counts.byKind)) ?? Data("{}".utf8), as: UTF8.self)
        try await tx.query(
            """
            UPDATE directory_sync_runs SET kind = \(run.kind.rawValue), status = \(run.status.rawValue),
                domain_controller = \(run.domainController), finished_at = \(run.finishedAt),
                objects_read = \(Int32(clamping: run.objectsRead)), counts = \(counts)::jsonb,
                pending_deletions = \(run.pendingDeletions.map { Int32(clamping: $0) }), error = \(run.error)
            WHERE tenant_id = \(tenantID.rawValue) AND id = \(run.id.rawValue)
            """
        )
    }

    /// Records every run of `connection` still `running` as failed: the caller holds the connection's lease, so
    /// whoever started them is gone.
    ///
    /// - Returns: the ids of the runs marked.
    @discardableResult
    package func abandonRunning(connection: DirectoryConnectionID) async throws -> [SyncRunID] {
        let rows = try await tx.query(
            """
            UPDATE directory_sync_runs SET status = 'failed', finished_at = now(), error = \(Self.abandonedMessage)
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue) AND status = 'running'
            RETURNING id
            """
        )
        var ids: [SyncRunID] = []
        for try await id in rows.decode(UUID.self) { ids.append(SyncRunID(id)) }
        return ids
    }

    /// The error of a run whose process went away; `charter_private.abandon_directory_sync_runs` writes the same.
    package static let abandonedMessage =
        "Abandoned: the process running this sync stopped before it finished (its lease expired); "
        + "nothing it read was stored."

    package func get(_ id: SyncRunID) async throws -> SyncRun {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_sync_runs
            WHERE tenant_id = \(tenantID.rawValue) AND id = \(id.rawValue)
            """
        )
        for try await row in rows.decode(Row.self) { return Self.run(row) }
        throw StoreError.notFound
    }

    /// A page of runs, newest first, optionally of one connection; `cursor` is the last run of the previous page.
    package func list(
        connection: DirectoryConnectionID?, after cursor: SyncRunID?, limit: Int
    ) async throws -> [SyncRun] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_sync_runs
            WHERE tenant_id = \(tenantID.rawValue)
              AND (\(connection?.rawValue)::uuid IS NULL OR connection_id = \(connection?.rawValue))
              AND (\(cursor?.rawValue)::uuid IS NULL OR (started_at, id) < (
                  SELECT started_at, id FROM directory_sync_runs
                  WHERE tenant_id = \(tenantID.rawValue) AND id = \(cursor?.rawValue)))
            ORDER BY started_at DESC, id DESC LIMIT \(limit)
            """
        )
        var runs: [SyncRun] = []
        for try await row in rows.decode(Row.self) { runs.append(Self.run(row)) }
        return runs
    }
}
