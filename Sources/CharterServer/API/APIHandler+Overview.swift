import CharterCore
import CharterServices
import Foundation

extension APIHandler {
    /// `stale_after` when the caller gives none: a week, so a laptop off over a long weekend is not stale.
    static let defaultStaleAfter = 604_800

    func getMSPOverview(_ input: Operations.GetMSPOverview.Input) async throws -> Operations.GetMSPOverview.Output {
        // Every principal of the MSP may read it; what it sees is narrowed to the tenants it may read.
        let call = try MSPCall.authorize(.read, msp: input.path.msp, allowTenantScope: true)
        let query = input.query
        let staleAfter = query.staleAfter ?? Self.defaultStaleAfter
        guard (600...31_536_000).contains(staleAfter) else {
            throw Problem(.malformedRequest, "stale_after must be between 600 and 31536000 seconds.", field: "stale_after")
        }
        let overview = TenantOverview.Query(
            needsAttention: query.needsAttention,
            reasons: Set((query.reason ?? []).compactMap { AttentionReason(rawValue: $0.rawValue) }),
            order: query.sort.flatMap { TenantOverview.Order(rawValue: $0.rawValue) } ?? .attention,
            after: try Cursor.decodeID(query.cursor, as: TenantID.self),
            limit: try Input.limit(query.limit)
        )
        let (page, asOf) = try await tenancy.overview(
            of: call.msp, tenants: call.scope.principal.readableTenants(in: call.msp),
            staleAfter: TimeInterval(staleAfter), query: overview, by: call.caller
        )
        return .ok(
            .init(
                body: .json(
                    .init(
                        asOf: asOf, items: page.items.map(Components.Schemas.TenantOverview.init),
                        nextCursor: page.next?.description
                    )
                )
            )
        )
    }
}

extension Components.Schemas.TenantOverview {
    init(_ tenant: TenantOverview) {
        let chain = tenant.auditChain
        self.init(
            tenantId: tenant.tenant.description,
            name: tenant.name,
            needsAttention: tenant.reasons.compactMap { Components.Schemas.AttentionReason(rawValue: $0.rawValue) },
            devices: .init(
                total: tenant.devices.total, online: tenant.devices.online, stale: tenant.devices.stale,
                behind: tenant.devices.behind
            ),
            directory: .init(
                connections: tenant.directory.connections, failed: tenant.directory.failed, held: tenant.directory.held,
                lastRun: tenant.directory.lastRun.map { run in
                    .init(
                        startedAt: run.startedAt, finishedAt: run.finishedAt,
                        status: .init(rawValue: run.status) ?? .running
                    )
                }
            ),
            pendingRequests: tenant.pendingRequests,
            auditChain: .init(
                status: .init(rawValue: chain.status.rawValue) ?? .unverified, verifiedThrough: chain.verifiedThrough,
                lastVerifiedAt: chain.lastVerifiedAt, since: chain.since, brokenAt: chain.brokenAt
            )
        )
    }
}
