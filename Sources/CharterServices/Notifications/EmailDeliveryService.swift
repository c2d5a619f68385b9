import CharterCore
package import CharterStore
package import Foundation
package import Logging
import Metrics
import ServiceLifecycle

/// Sends queued emails (to approvers, and of alerts): claims due deliveries (a lease keeps other replicas off them), sends each
/// notification to its claimed recipients in one SMTP session, records every recipient's outcome, and retries
/// failures with exponential backoff (base × 2^attempt, at most an hour, with jitter) until `maximumAttempts`.
///
/// The session itself is the ``EmailTransport``'s (the server's SMTP client). A recipient or message the server
/// refuses with a 5xx reply fails at once: sending it again would fail again.
/// Everything else (4xx replies, no connection, TLS or authentication failures, timeouts) is retried, since an
/// operator can fix the relay or the configuration in the meantime. `charter_email_deliveries` counts attempts
/// by outcome (`sent`, `retry`, `failed`, and `capped` for deliveries skipped over a tenant's hourly cap).
///
/// Tenants are served in turn, at most `batchSize` deliveries each per pass, and a tenant that has had
/// `maximumPerTenantPerHour` deliveries sent in the last hour gets its due ones recorded as failed (unsent, not
/// retried) instead of claimed, so one tenant's flood never holds back the others' mail.
package struct EmailDeliveryService: Service {
    package static let maximumAttempts = 10
    package static let batchSize = 50

    /// How one attempt for one recipient ended.
    package enum AttemptResult: Hashable, Sendable {
        case sent(replyCode: Int)
        case failed(reason: String, replyCode: Int?, isPermanent: Bool)
    }

    let database: Database
    let transport: any EmailTransport
    /// The first retry's delay (`smtp.retry_base_seconds`).
    let retryBase: TimeInterval
    let pollInterval: Duration
    let logger: Logger
    /// How long claimed deliveries stay with this replica. A session may take up to half of it (SMTP gives each
    /// step its own timeout, not the session one deadline): past half the lease the rest of a claim is handed back,
    /// since another replica may take it over before a session started then ends.
    package var claimLease: TimeInterval = 600
    /// Deliveries one tenant may have sent in any hour (`email.max_per_tenant_per_hour`); due ones beyond it are
    /// recorded as failed, unsent, with the reason.
    package var maximumPerTenantPerHour = 500

    /// - Parameters:
    ///   - transport: sends one notification to its claimed recipients in one session.
    ///   - retryBase: the first retry's delay.
    ///   - pollInterval: how often due deliveries are looked for.
    ///   - maximumPerTenantPerHour: `email.max_per_tenant_per_hour`.
    package init(
        database: Database, transport: any EmailTransport, retryBase: TimeInterval, pollInterval: Duration,
        logger: Logger, maximumPerTenantPerHour: Int = 500
    ) {
        self.database = database
        self.transport = transport
        self.retryBase = retryBase
        self.pollInterval = pollInterval
        self.logger = logger
        self.maximumPerTenantPerHour = maximumPerTenantPerHour
    }

    /// The claims' rules (``DeliveryClaim``): one notification's session may take half the lease.
    package var claimPolicy: DeliveryClaim<[ClaimedDelivery]>.Policy {
        .init(
            lease: claimLease, attemptBudget: claimLease / 2, retryBase: retryBase,
            maximumAttempts: Self.maximumAttempts
        )
    }

    /// A claimed delivery (one recipient) and its notification.
    package typealias ClaimedDelivery = (delivery: EmailDelivery, notification: EmailNotification)

    package func run() async throws {
        // Only the wait is cut short by shutdown: a message in hand is sent and recorded, the rest handed back.
        await Periodic.run(
            every: pollInterval, startingNow: true, logger: logger, failure: "email delivery pass failed"
        ) {
            try await deliverDue()
        }
    }

    /// Sends every delivery due now, tenant by tenant, one SMTP session per notification.
    package func deliverDue() async throws {
        let tenants = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.email.tenantsWithDueDeliveries()
        }
        for (tenant, msp) in tenants where !Task.isShuttingDownGracefully {
            let claimedAt = Date()
            let cap = maximumPerTenantPerHour
            let policy = claimPolicy
            let (claimed, skipped): ([ClaimedDelivery], Int) =
                try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                    let sent = try await tx.email.sentCount(tenant, since: claimedAt.addingTimeInterval(-3600))
                    guard sent < cap else {
                        let reason =
                            "Not sent: the tenant's emails reached \(cap) in the last hour "
                            + "(email.max_per_tenant_per_hour)."
                        return ([], try await tx.email.skipDue(tenant, reason: reason, at: claimedAt))
                    }
                    let limit = min(Self.batchSize, cap - sent)
                    return (try await tx.email.claimDue(tenant, limit: limit, lease: policy.lease, at: claimedAt), 0)
                }
            if skipped > 0 {
                // One tenant's flood is cut here; the other tenants' mail goes out in this same pass.
                logger.warning(
                    "email deliveries skipped over the tenant's hourly cap",
                    metadata: ["tenant.id": "\(tenant)", "email.skipped": "\(skipped)", "email.cap": "\(cap)"]
                )
                Counter(label: "charter_email_deliveries", dimensions: [("outcome", "capped")]).increment(by: skipped)
            }
            // Oldest notification first; its recipients in the order it names them (the claim's rows come back in
            // no particular order), so RCPT TO follows the To header.
            let notifications = Dictionary(grouping: claimed, by: \.notification.id).values
                .sorted { $0[0].notification.createdAt < $1[0].notification.createdAt }
                .map { group in group.sorted { Self.position(of: $0) < Self.position(of: $1) } }
            // One item of the claim is one notification, sent to its claimed recipients in one session.
            var claim = DeliveryClaim(notifications, claimedAt: claimedAt, policy: policy)
            sending: while true {
                switch claim.next(now: Date(), isShuttingDown: Task.isShuttingDownGracefully) {
                case .done:
                    break sending
                case .handBack(let rest):
                    // Due at once for the next pass of any replica.
                    try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                        try await tx.email.release(tenant, deliveries: rest.flatMap { $0.map(\.delivery.id) }, at: Date())
                    }
                    break sending
                case .send(let group):
                    let notification = group[0].notification
                    let results = await transport.deliver(notification, to: group.map(\.delivery.recipient))
                    let now = Date()
                    try await database.withTenant(tenant, msp: msp, logger: logger) { tx in
                        for (delivery, _) in group {
                            let result =
                                results[delivery.recipient]
                                ?? .failed(reason: "no outcome", replyCode: nil, isPermanent: false)
                            try await record(
                                result, of: delivery, about: notification, in: tenant, policy: policy, tx: tx, at: now
                            )
                        }
                    }
                }
            }
        }
    }

    /// Where a claimed delivery's recipient stands in its notification's list.
    static func position(of claimed: ClaimedDelivery) -> Int {
        claimed.notification.recipients.firstIndex(of: claimed.delivery.recipient) ?? .max
    }

    /// Records one recipient's attempt and logs it: sent, due again after the backoff, or failed for good.
    private func record(
        _ result: AttemptResult, of delivery: EmailDelivery, about notification: EmailNotification, in tenant: TenantID,
        policy: DeliveryClaim<[ClaimedDelivery]>.Policy, tx: Transaction, at now: Date
    ) async throws {
        let attempts = delivery.attempts + 1
        var metadata: Logger.Metadata = [
            "tenant.id": "\(tenant)", "email.event": "\(notification.topic.event)",
            "email.delivery.id": "\(delivery.id.uuidString.lowercased())",
            "email.attempt": "\(attempts)",
        ]
        if case .request(let request, _) = notification.topic {
            metadata["request.id"] = "\(request.uuidString.lowercased())"
        }
        switch result {
        case .sent(let replyCode):
            try await tx.email.record(
                tenant, delivery: delivery.id, status: .sent, replyCode: replyCode, error: nil, retryAt: now, at: now
            )
            logger.info("email sent", metadata: metadata)
            Counter(label: "charter_email_deliveries", dimensions: [("outcome", "sent")]).increment()
        case .failed(let reason, let replyCode, let isPermanent):
            let verdict = policy.verdict(
                afterAttempt: attempts, .failed(isPermanent: isPermanent), now: now, jitter: Double.random(in: 0.8...1.2)
            )
            let (status, retryAt, outcome): (EmailDelivery.Status, Date, String) =
                switch verdict {
                case .retry(let at): (.pending, at, "retry")
                case .failed, .delivered: (.failed, now, "failed")
                }
            try await tx.email.record(
                tenant, delivery: delivery.id, status: status, replyCode: replyCode,
                error: String(reason.prefix(500)), retryAt: retryAt, at: now
            )
            var failure = metadata
            failure["error"] = "\(reason)"
            logger.warning(
                status == .failed ? "email delivery failed for good" : "email delivery failed; will retry",
                metadata: failure
            )
            Counter(label: "charter_email_deliveries", dimensions: [("outcome", outcome)]).increment()
        }
    }
}
