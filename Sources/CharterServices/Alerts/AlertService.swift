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
    /// Alerts are emailed too (the server sends email: `smtp.host` is set).
    let emailsAlerts: Bool

    package init(database: Database, emailsAlerts: Bool = false, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.emailsAlerts = emailsAlerts
        self.now = now
    }

    /// Queues `audit.chain_broken` for the tenant's webhooks, naming where verification found the chain broken
    /// (an `AuditLog.Verification`'s `firstBreak` and `eventsChecked`), in a transaction of its own.
    ///
    /// One call is one alert: call it when a chain is found broken that was not found broken before, not on every
    /// pass over the same break. The periodic verifier raises it in its own transaction (``AuditChainAlarm``).
    package func chainBroken(
        tenant: TenantID, msp: MSPID, breakSequence: Int64, reason: String, eventsChecked: Int, logger: Logger
    ) async throws {
        let found = AuditChainBreak(
            tenant: tenant, msp: msp, sequence: breakSequence, reason: reason, eventsChecked: eventsChecked,
            foundAt: now()
        )
        try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
            try await auditChainBroken(found, in: tx)
        }
    }
}

extension AlertService: AuditChainAlarm {
    /// Queues `audit.chain_broken` in the transaction that records the chain as broken, so the alert commits
    /// with the state or not at all.
    package func auditChainBroken(_ found: AuditChainBreak, in tx: Transaction) async throws {
        let snapshot = AuditJSON.encode([
            "events_checked": found.eventsChecked, "first_break_sequence": found.sequence, "reason": found.reason,
        ])
        try await AlertEvent.enqueue(
            AlertEvent.chainBroken, in: found.tenant, subject: "audit_chain", snapshot: snapshot, at: found.foundAt,
            emails: emailsAlerts, tx: tx
        )
    }
}
