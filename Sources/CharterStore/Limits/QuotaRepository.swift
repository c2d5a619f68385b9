package import CharterCore
import Foundation
import PostgresNIO

/// What a tenant may hold only so many of.
package enum Quota: String, Sendable, Hashable, CaseIterable {
    case devices
    case directoryConnections = "directory_connections"
    case webhooks
    case connectors
    /// Alert email recipients (``AlertEmailRepository/admitOne(limit:)``).
    case alertEmails = "alert_emails"

    /// What counts: the table and the condition beyond the tenant (constant SQL).
    var counted: String {
        switch self {
        case .devices: "devices WHERE revoked_at IS NULL AND"
        case .directoryConnections: "directory_connections WHERE"
        case .webhooks: "webhooks WHERE"
        case .connectors: "connectors WHERE revoked_at IS NULL AND"
        case .alertEmails: "tenant_alert_emails WHERE"
        }
    }
}

/// The tenant (or, for its webhooks, the MSP) already holds as many of `quota` as allowed; nothing was created.
package struct QuotaExceeded: Error, Sendable, Hashable {
    package var quota: Quota
    package var limit: Int
    /// The MSP's own count was exceeded (its webhooks, ``MSPWebhookRepository/admitOne(in:limit:)``, or alert
    /// email recipients).
    package var isMSP = false
}

/// Checks a tenant's quotas inside the transaction that creates the thing counted.
package struct QuotaRepository: Sendable {
    let tx: Transaction

    /// Takes the tenant's lock for `quota` until commit, then counts what it holds: concurrent creates of one
    /// tenant count one after the other, so they cannot overshoot; other tenants do not wait.
    ///
    /// Call it in the creating transaction, before the insert.
    /// - Throws: ``QuotaExceeded`` when the tenant holds `limit` or more already.
    package func admitOne(more quota: Quota, in tenant: TenantID, limit: Int) async throws {
        try await tx.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(\("quota:\(quota.rawValue):\(tenant.rawValue.uuidString)"), 0))"
        )
        let rows = try await tx.query(
            "SELECT count(*) FROM \(unescaped: quota.counted) tenant_id = \(tenant.rawValue)"
        )
        for try await count in rows.decode(Int64.self) where count >= Int64(limit) {
            throw QuotaExceeded(quota: quota, limit: limit)
        }
    }
}

extension Transaction {
    package var quotas: QuotaRepository { QuotaRepository(tx: self) }
}
