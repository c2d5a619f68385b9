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
    /// - Parameters:
    ///   - tenants: The tenants the caller may read (``Principal/readableTenants(in:)``); `nil` for all.
    ///   - staleAfter: Devices not seen for this long are stale.
    package func overview(
        of msp: MSPID, tenants: Set<TenantID>?, staleAfter: TimeInterval, query: TenantOverview.Query,
        by caller: Caller
    ) async throws -> TenantOverview.Page {
        let now = now()
        let all = try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.overview.tenants(
                onlineSince: now.addingTimeInterval(-Self.onlineWindow), staleBefore: now.addingTimeInterval(-staleAfter),
                only: tenants
            )
        }
        return TenantOverview.page(of: all, query)
    }
}
