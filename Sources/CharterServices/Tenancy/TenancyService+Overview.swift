package import CharterCore
import CharterStore
package import Foundation

extension TenancyService {
    /// Devices that checked in this recently are online: two check-in intervals (agents check in every 5 minutes;
    /// docs/agent-protocol.md), so one late check-in does not count a device as gone.
    package static let onlineWindow: TimeInterval = 600

    /// A page of the MSP overview (docs/operations-overview.md): every tenant's figures read in one statement,
    /// then filtered, ordered and cut by Core's ``TenantOverview/page(of:_:)``.
    ///
    /// An MSP-wide caller's figures come from a snapshot young enough when the service keeps them
    /// (``OverviewSnapshots``): they cover every tenant of the MSP. A caller who may read only some tenants reads
    /// theirs alone, which costs a share of the MSP's.
    ///
    /// - Parameters:
    ///   - tenants: The tenants the caller may read (``Principal/readableTenants(in:)``); `nil` for all.
    ///   - staleAfter: Devices not seen for this long are stale.
    /// - Returns: The page, and when its figures were read.
    package func overview(
        of msp: MSPID, tenants: Set<TenantID>?, staleAfter: TimeInterval, query: TenantOverview.Query,
        by caller: Caller
    ) async throws -> (page: TenantOverview.Page, asOf: Date) {
        let read: @Sendable () async throws -> OverviewSnapshots.Snapshot = { [database, now, logger = caller.logger] in
            let readAt = now()
            let figures = try await database.withMSP(msp, logger: logger) { tx in
                try await tx.overview.tenants(
                    onlineSince: readAt.addingTimeInterval(-Self.onlineWindow),
                    staleBefore: readAt.addingTimeInterval(-staleAfter), only: tenants
                )
            }
            return OverviewSnapshots.Snapshot(tenants: figures, readAt: readAt)
        }
        let snapshot =
            if let overviewSnapshots, tenants == nil {
                try await overviewSnapshots.snapshot(of: msp, staleAfter: staleAfter, read: read)
            } else {
                try await read()
            }
        return (TenantOverview.page(of: snapshot.tenants, query), snapshot.readAt)
    }
}
