package import CharterCore
package import CharterStore
package import Foundation
package import Logging
import ServiceLifecycle

/// A tenant's audit chain found broken by the periodic verification.
package struct AuditChainBreak: Hashable, Sendable {
    package var tenant: TenantID
    package var msp: MSPID
    /// The first event whose link does not hold.
    package var sequence: Int64
    /// Why: an event is missing, a link or a hash does not match, a verified event was changed.
    package var reason: String
    /// How many events the pass that found the break checked.
    package var eventsChecked: Int
    package var foundAt: Date

    package init(tenant: TenantID, msp: MSPID, sequence: Int64, reason: String, eventsChecked: Int, foundAt: Date) {
        self.tenant = tenant
        self.msp = msp
        self.sequence = sequence
        self.reason = reason
        self.eventsChecked = eventsChecked
        self.foundAt = foundAt
    }
}

/// The hook told when the periodic verification first finds a tenant's audit chain broken: where alerts
/// (webhooks, email; issue 19, item 4) are raised. Handed to ``AuditChainVerifier`` when the application is
/// built.
package protocol AuditChainAlarm: Sendable {
    /// Called once per break, in the transaction that records it as broken, so that what it queues (an outbox
    /// row) commits with the state, or not at all; a throw rolls both back and the next pass finds the break again.
    func auditChainBroken(_ found: AuditChainBreak, in tx: Transaction) async throws
}

/// Verifies every tenant's audit hash chain incrementally, every `interval`: each pass checks only the events
/// appended since the last verified one (at most `maximumEvents` per tenant and pass), after checking that the
/// last verified event still has the hash it had, and stores the outcome (`audit_chain_states`), which the MSP
/// overview shows.
///
/// Every replica may run it: a tenant's state row is locked while its chain is verified, and a replica that finds
/// it locked skips that tenant. A broken chain is not verified again; it stays broken until its state row is
/// removed (docs/operations-overview.md, "Audit chain state").
package struct AuditChainVerifier: Service {
    /// What one tenant's verification did.
    package enum Outcome: Hashable, Sendable {
        /// The chain holds through `through`; `events` were checked in this pass.
        case verified(through: Int64, events: Int)
        /// The chain broke (newly found in this pass).
        case broken(AuditChainBreak)
        /// Another replica holds the tenant's state, or the chain was already known to be broken.
        case skipped
    }

    /// The most tenants one pass verifies; the least recently verified go first, the rest wait for the next pass.
    package static let tenantsPerPass = 1000

    let database: Database
    let interval: Duration
    let maximumEvents: Int
    let alarm: (any AuditChainAlarm)?
    let logger: Logger
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(
        database: Database, interval: Duration, maximumEvents: Int, alarm: (any AuditChainAlarm)?, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.interval = interval
        self.maximumEvents = maximumEvents
        self.alarm = alarm
        self.logger = logger
        self.now = now
    }

    package func run() async throws {
        await Periodic.run(
            every: interval, startingNow: false, logger: logger, failure: "could not verify audit chains"
        ) {
            _ = try await verifyDue()
        }
    }

    /// One pass: verifies the chains with events not yet verified. A tenant whose verification fails (deleted
    /// meanwhile, a lost connection) is logged and left for the next pass.
    ///
    /// - Returns: Each tenant verified and its outcome.
    @discardableResult
    package func verifyDue() async throws -> [TenantID: Outcome] {
        let due = try await database.withoutTenant(logger: logger) { tx in
            try await tx.auditChainStates.due(limit: Self.tenantsPerPass)
        }
        var outcomes: [TenantID: Outcome] = [:]
        for (tenant, msp) in due {
            try Task.checkCancellation()
            do {
                outcomes[tenant] = try await verify(tenant, msp: msp)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning(
                    "could not verify an audit chain",
                    metadata: ["tenant.id": "\(tenant)", "error": "\(String(reflecting: error))"]
                )
            }
        }
        return outcomes
    }

    /// Verifies the tenant's chain from where the last verification stopped, and records the outcome.
    package func verify(_ tenant: TenantID, msp: MSPID) async throws -> Outcome {
        let now = now()
        let outcome = try await database.withTenant(tenant, msp: msp, logger: logger) { tx -> Outcome in
            guard let state = try await tx.auditChainStates.claim(tenant, now: now), !state.isBroken else {
                return .skipped
            }
            let (verification, reached) = try await tx.audit.verify(
                .tenant(tenant), after: state.anchor, limit: maximumEvents
            )
            guard let found = verification.firstBreak else {
                try await tx.auditChainStates.recordVerified(tenant, through: reached, at: now)
                return .verified(through: reached.sequence, events: verification.eventsChecked)
            }
            try await tx.auditChainStates.recordBroken(tenant, through: reached, at: found, now: now)
            let report = AuditChainBreak(
                tenant: tenant, msp: msp, sequence: found.sequence, reason: found.reason,
                eventsChecked: verification.eventsChecked, foundAt: now
            )
            try await alarm?.auditChainBroken(report, in: tx)
            return .broken(report)
        }
        if case .broken(let report) = outcome {
            logger.error(
                "audit chain broken",
                metadata: [
                    "tenant.id": "\(tenant)", "audit.sequence": "\(report.sequence)", "audit.reason": "\(report.reason)",
                ]
            )
        }
        return outcome
    }
}
