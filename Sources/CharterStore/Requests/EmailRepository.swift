package import CharterCore
package import Foundation
import PostgresNIO

/// An email about one request (to its approvers) or one alert (docs/alerts.md): its text and every address it
/// names (the `To:` header).
package struct EmailNotification: Hashable, Sendable {
    /// What happened to the request.
    package enum Event: String, Hashable, Sendable {
        case pending = "request.pending"
        case expired = "request.expired"
    }

    /// What the email is about.
    package enum Topic: Hashable, Sendable {
        case request(UUID, Event)
        /// An alert event's name (`directory.sync_failed`, …).
        case alert(String)

        /// The `email_messages.event` it is stored as.
        package var event: String {
            switch self {
            case .request(_, let event): event.rawValue
            case .alert(let event): event
            }
        }
    }

    package var id: UUID
    package var topic: Topic
    package var recipients: [String]
    package var subject: String
    package var body: String
    package var createdAt: Date

    package init(
        id: UUID, topic: Topic, recipients: [String], subject: String, body: String, createdAt: Date
    ) {
        self.id = id
        self.topic = topic
        self.recipients = recipients
        self.subject = subject
        self.body = body
        self.createdAt = createdAt
    }
}

/// One recipient of an email notification, and how sending to it went.
package struct EmailDelivery: Hashable, Sendable {
    package enum Status: String, Hashable, Sendable {
        case pending, sent, failed
    }

    package var id: UUID
    package var notification: UUID
    package var recipient: String
    /// Attempts made before this one.
    package var attempts: Int
}

/// Email notifications and their per-recipient deliveries (an outbox the email worker drains).
package struct EmailRepository: Sendable {
    let tx: Transaction

    /// Queues `notification` with one pending delivery per recipient, due at once.
    package func enqueue(_ notification: EmailNotification, in tenant: TenantID) async throws {
        let request: UUID? =
            switch notification.topic {
            case .request(let id, _): id
            case .alert: nil
            }
        try await tx.query(
            """
            INSERT INTO email_messages (tenant_id, id, request_id, event, recipients, subject, body, created_at)
            VALUES (\(tenant.rawValue), \(notification.id), \(request), \(notification.topic.event),
                    \(notification.recipients), \(notification.subject), \(notification.body),
                    \(notification.createdAt))
            """
        )
        try await tx.query(
            """
            INSERT INTO email_deliveries (tenant_id, id, message_id, recipient, status, next_attempt_at, created_at)
            SELECT \(tenant.rawValue), gen_random_uuid(), \(notification.id), recipient, 'pending',
                   \(notification.createdAt), \(notification.createdAt)
            FROM unnest(\(notification.recipients)::text[]) AS recipient
            """
        )
    }

    /// Queues an alert email with `subject` and `body` for the current tenant's MSP's recipients of `event`, when
    /// it has any: the MSP's recipients are out of a tenant transaction's sight, so a definer function (migration
    /// 0024) reads them and queues the message in the tenant's outbox.
    package func enqueueForMSP(alert event: String, subject: String, body: String, at now: Date) async throws {
        try await tx.query(
            "SELECT charter_private.enqueue_msp_alert_email(\(event), \(subject), \(body), \(now))"
        )
    }

    /// The addresses the `event` notification about `request` named, or `[]` when there was none.
    package func recipients(of request: UUID, event: EmailNotification.Event) async throws -> [String] {
        let rows = try await tx.query(
            "SELECT recipients FROM email_messages WHERE request_id = \(request) AND event = \(event.rawValue)"
        )
        for try await recipients in rows.decode([String].self) { return recipients }
        return []
    }

    /// Hands claimed deliveries back unsent (a replica shutting down): due again at `now`, for any replica.
    package func release(_ tenant: TenantID, deliveries: [UUID], at now: Date) async throws {
        try await tx.query(
            """
            UPDATE email_deliveries SET next_attempt_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = ANY(\(deliveries)) AND status = 'pending'
            """
        )
    }

    /// Claims up to `limit` due deliveries of the tenant for `lease`: another replica does not take them
    /// until the lease ends.
    package func claimDue(_ tenant: TenantID, limit: Int, lease: TimeInterval, at now: Date) async throws
        -> [(delivery: EmailDelivery, notification: EmailNotification)]
    {
        // The due rows are picked once, in a materialised CTE: as a subquery of the join, `LIMIT … SKIP LOCKED` may
        // be run again for each joined row and claim more than `limit` (the per-tenant email cap relies on it).
        let rows = try await tx.query(
            """
            WITH due AS MATERIALIZED (
                SELECT id FROM email_deliveries
                WHERE tenant_id = \(tenant.rawValue) AND status = 'pending' AND next_attempt_at <= \(now)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            UPDATE email_deliveries d SET next_attempt_at = \(now.addingTimeInterval(lease))
            FROM email_messages m
            WHERE d.id IN (SELECT id FROM due)
              AND m.tenant_id = d.tenant_id AND m.id = d.message_id
            RETURNING d.id, d.recipient, d.attempts, m.id, m.request_id, m.event, m.recipients, m.subject, m.body,
                      m.created_at
            """
        )
        var claimed: [(delivery: EmailDelivery, notification: EmailNotification)] = []
        let columns = (UUID, String, Int, UUID, UUID?, String, [String], String, String, Date).self
        for try await (id, recipient, attempts, message, request, event, recipients, subject, body, created)
            in rows.decode(columns)
        {
            let topic: EmailNotification.Topic
            if let request {
                guard let event = EmailNotification.Event(rawValue: event) else {
                    throw StoreError.unexpected(sqlState: "email event")
                }
                topic = .request(request, event)
            } else {
                topic = .alert(event)
            }
            claimed.append(
                (
                    EmailDelivery(id: id, notification: message, recipient: recipient, attempts: attempts),
                    EmailNotification(
                        id: message, topic: topic, recipients: recipients, subject: subject,
                        body: body, createdAt: created
                    )
                )
            )
        }
        return claimed
    }

    /// Records an attempt: sent, failed for good, or due again at `retryAt`.
    package func record(
        _ tenant: TenantID, delivery: UUID, status: EmailDelivery.Status, replyCode: Int?, error: String?,
        retryAt: Date, at now: Date
    ) async throws {
        try await tx.query(
            """
            UPDATE email_deliveries
            SET attempts = attempts + 1, status = \(status.rawValue), last_reply_code = \(replyCode),
                last_error = \(error), next_attempt_at = \(retryAt),
                sent_at = CASE WHEN \(status.rawValue) = 'sent' THEN \(now) ELSE NULL END
            WHERE tenant_id = \(tenant.rawValue) AND id = \(delivery)
            """
        )
    }

    /// How many deliveries of the tenant were sent since `since` (its hourly cap).
    package func sentCount(_ tenant: TenantID, since: Date) async throws -> Int {
        let rows = try await tx.query(
            """
            SELECT count(*) FROM email_deliveries
            WHERE tenant_id = \(tenant.rawValue) AND status = 'sent' AND sent_at > \(since)
            """
        )
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Records every due, unclaimed delivery of the tenant as failed with `reason`, unsent and not to be
    /// retried (the tenant is over its cap).
    ///
    /// - Returns: how many deliveries were skipped.
    package func skipDue(_ tenant: TenantID, reason: String, at now: Date) async throws -> Int {
        let rows = try await tx.query(
            """
            UPDATE email_deliveries SET status = 'failed', last_error = \(reason), next_attempt_at = \(now)
            WHERE id IN (SELECT id FROM email_deliveries
                         WHERE tenant_id = \(tenant.rawValue) AND status = 'pending' AND next_attempt_at <= \(now)
                         FOR UPDATE SKIP LOCKED)
            RETURNING 1
            """
        )
        var skipped = 0
        for try await _ in rows { skipped += 1 }
        return skipped
    }

    /// Tenants with deliveries due, across tenants (the email worker).
    package func tenantsWithDueDeliveries() async throws -> [(tenant: TenantID, msp: MSPID)] {
        let rows = try await tx.query("SELECT tenant_id, msp_id FROM charter_private.tenants_with_due_email()")
        var tenants: [(tenant: TenantID, msp: MSPID)] = []
        for try await (tenant, msp) in rows.decode((UUID, UUID).self) { tenants.append((TenantID(tenant), MSPID(msp))) }
        return tenants
    }
}

extension Transaction {
    package var email: EmailRepository { EmailRepository(tx: self) }
}
