package import CharterCore
package import Foundation
import PostgresNIO

/// The MSP overview's figures, for the tenants of the MSP selected on the transaction
/// (`charter_private.msp_overview`, migration 0022: one statement, aggregates read from indexes per tenant).
package struct OverviewRepository: Sendable {
    let tx: Transaction

    private typealias Row = (
        UUID, String, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Date?, Date?, String?, Int64, String?, Int64?,
        Date?, Date?, Int64?
    )

    /// Every tenant of the MSP (or only those of `only`), unordered.
    ///
    /// - Parameters:
    ///   - onlineSince: Devices seen at or after this are online.
    ///   - staleBefore: Devices last seen before this (or never) are stale.
    ///   - only: The tenants the caller may read; `nil` for all of the MSP's.
    package func tenants(onlineSince: Date, staleBefore: Date, only: Set<TenantID>?) async throws -> [TenantOverview] {
        let only = only.map { $0.map(\.rawValue) }
        let rows = try await tx.query(
            """
            SELECT tenant_id, name, devices, devices_online, devices_stale, devices_behind, connections, syncs_failed,
                   syncs_held, last_sync_started_at, last_sync_finished_at, last_sync_status, requests_pending,
                   audit_status, audit_verified_seq, audit_verified_at, audit_since, audit_broken_seq
            FROM charter_private.msp_overview(\(onlineSince), \(staleBefore), \(only)::uuid[])
            """
        )
        var tenants: [TenantOverview] = []
        for try await row in rows.decode(Row.self) { tenants.append(Self.overview(row)) }
        return tenants
    }

    private static func overview(_ row: Row) -> TenantOverview {
        let lastRun = row.9.map {
            TenantOverview.Directory.Run(startedAt: $0, finishedAt: row.10, status: row.11 ?? "running")
        }
        var chain = TenantOverview.AuditChain.unverified
        if let status = row.13.flatMap(TenantOverview.AuditChain.Status.init(rawValue:)) {
            chain = TenantOverview.AuditChain(
                status: status, verifiedThrough: row.14 ?? 0, lastVerifiedAt: row.15, since: row.16, brokenAt: row.17
            )
        }
        return TenantOverview(
            tenant: TenantID(row.0),
            name: row.1,
            devices: .init(total: Int(row.2), online: Int(row.3), stale: Int(row.4), behind: Int(row.5)),
            directory: .init(connections: Int(row.6), failed: Int(row.7), held: Int(row.8), lastRun: lastRun),
            pendingRequests: Int(row.12),
            auditChain: chain
        )
    }
}

extension Transaction {
    package var overview: OverviewRepository { OverviewRepository(tx: self) }
}
