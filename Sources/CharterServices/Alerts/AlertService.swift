package import CharterCore
package import CharterStore
package import Foundation
package import Logging

/// Alerts raised from outside a tenant's own transactions: today a broken audit chain, which a periodic
/// verifier finds (docs/alerts.md). The other alert events are queued where they happen (``AlertEvent``).
package struct AlertService: Sendable {
    let database: Database
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(database: Database, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    /// Queues `audit.chain_broken` for the tenant's webhooks, naming where verification found the chain broken
    /// (an `AuditLog.Verification`'s `firstBreak` and `eventsChecked`).
    ///
    /// One call is one alert: the verifier calls it when it finds a chain broken that it had not found broken
    /// before, not on every pass over the same break.
    package func chainBroken(
        tenant: TenantID, msp: MSPID, breakSequence: Int64, reason: String, eventsChecked: Int, logger: Logger
    ) async throws {
        let now = now()
        let snapshot = AuditJSON.encode([
            "events_checked": eventsChecked, "first_break_sequence": breakSequence, "reason": reason,
        ])
        try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            try await AlertEvent.enqueue(
                AlertEvent.chainBroken, in: tenant, subject: "audit_chain", snapshot: snapshot, at: now, tx: tx
            )
        }
    }
}
