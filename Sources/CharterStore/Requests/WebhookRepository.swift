package import CharterCore
package import Foundation
import PostgresNIO

/// A tenant's webhook (its secret only sealed).
package struct Webhook: Hashable, Sendable {
    package var id: UUID
    package var url: String
    package var events: [String]
    package var secretSealed: String
    package var isEnabled: Bool
    package var createdAt: Date

    package init(id: UUID, url: String, events: [String], secretSealed: String, isEnabled: Bool, createdAt: Date) {
        self.id = id
        self.url = url
        self.events = events
        self.secretSealed = secretSealed
        self.isEnabled = isEnabled
        self.createdAt = createdAt
    }
}

/// One event for one webhook, and how sending it went.
package struct WebhookDelivery: Hashable, Sendable {
    package enum Status: String, Hashable, Sendable {
        case pending, delivered, failed
    }

    package var id: UUID
    package var webhook: UUID
    package var event: String
    package var payload: String
    package var status: Status
    package var attempts: Int
    package var nextAttemptAt: Date
    package var lastStatusCode: Int?
    package var lastError: String?
    package var createdAt: Date
    package var deliveredAt: Date?
    /// The tenant the event happened in: set for an MSP webhook's deliveries (``MSPWebhookRepository``).
    package var tenant: TenantID? = nil
}

/// Webhooks and their delivery log (an outbox the delivery worker drains).
package struct WebhookRepository: Sendable {
    let tx: Transaction

    package func create(_ webhook: Webhook, in tenant: TenantID, by principal: UUID?) async throws {
        try await tx.query(
            """
            INSERT INTO webhooks (tenant_id, id, url, events, secret_sealed, enabled, created_at, created_by)
            VALUES (\(tenant.rawValue), \(webhook.id), \(webhook.url), \(webhook.events), \(webhook.secretSealed),
                    \(webhook.isEnabled), \(webhook.createdAt), \(principal))
            """
        )
    }

    package func list(_ tenant: TenantID) async throws -> [Webhook] {
        try await webhooks(tenant, id: nil)
    }

    package func get(_ tenant: TenantID, id: UUID) async throws -> Webhook {
        guard let hook = try await webhooks(tenant, id: id).first else { throw StoreError.notFound }
        return hook
    }

    private func webhooks(_ tenant: TenantID, id: UUID?) async throws -> [Webhook] {
        let rows = try await tx.query(
            """
            SELECT id, url, events, secret_sealed, enabled, created_at FROM webhooks
            WHERE tenant_id = \(tenant.rawValue) AND (\(id)::uuid IS NULL OR id = \(id))
            ORDER BY created_at, id
            """
        )
        var hooks: [Webhook] = []
        for try await (id, url, events, sealed, enabled, created) in rows.decode((UUID, String, [String], String, Bool, Date).self) {
            hooks.append(Webhook(id: id, url: url, events: events, secretSealed: sealed, isEnabled: enabled, createdAt: created))
        }
        return hooks
    }

    package func delete(_ tenant: TenantID, id: UUID) async throws -> Webhook {
        let hook = try await get(tenant, id: id)
        try await tx.query("DELETE FROM webhooks WHERE tenant_id = \(tenant.rawValue) AND id = \(id)")
        return hook
    }

    /// Queues `event` for every enabled webhook of the tenant that subscribed to it, and of its MSP.
    ///
    /// The MSP's webhooks are out of a tenant transaction's sight; a definer function (migration 0023) queues
    /// their deliveries for the transaction's own tenant and MSP.
    package func enqueue(_ tenant: TenantID, event: String, payload: String, at now: Date) async throws {
        try await tx.query(
            """
            INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event, payload, status, next_attempt_at, created_at)
            SELECT tenant_id, gen_random_uuid(), id, \(event), \(payload), 'pending', \(now), \(now)
            FROM webhooks WHERE tenant_id = \(tenant.rawValue) AND enabled AND \(event) = ANY(events)
            """
        )
        try await tx.query("SELECT charter_private.enqueue_msp_webhook_deliveries(\(event), \(payload), \(now))")
    }

    /// Claims up to `limit` due deliveries of the tenant for `lease` under `token`: another replica does not
    /// take them until the lease ends, and only `token` can record their outcome (see ``record``).
    package func claimDue(_ tenant: TenantID, limit: Int, lease: TimeInterval, token: UUID, at now: Date) async throws
        -> [(delivery: WebhookDelivery, url: String, secretSealed: String)]
    {
        // The due rows are picked once, in a materialised CTE: as a subquery of the join, `LIMIT … SKIP LOCKED` may
        // be run again for each joined row and claim more than `limit` (the per-tenant email cap relies on it).
        let rows = try await tx.query(
            """
            WITH due AS MATERIALIZED (
                SELECT id FROM webhook_deliveries
                WHERE tenant_id = \(tenant.rawValue) AND status = 'pending' AND next_attempt_at <= \(now)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            UPDATE webhook_deliveries d SET next_attempt_at = \(now.addingTimeInterval(lease)), claim_token = \(token)
            FROM webhooks w
            WHERE d.id IN (SELECT id FROM due)
              AND w.tenant_id = d.tenant_id AND w.id = d.webhook_id
            RETURNING d.id, d.webhook_id, d.event, d.payload, d.attempts, d.created_at, w.url, w.secret_sealed
            """
        )
        var claimed: [(delivery: WebhookDelivery, url: String, secretSealed: String)] = []
        for try await (id, webhook, event, payload, attempts, created, url, sealed) in rows.decode(
            (UUID, UUID, String, String, Int, Date, String, String).self
        ) {
            claimed.append(
                (
                    WebhookDelivery(
                        id: id, webhook: webhook, event: event, payload: payload, status: .pending, attempts: attempts,
                        nextAttemptAt: now, lastStatusCode: nil, lastError: nil, createdAt: created, deliveredAt: nil
                    ), url, sealed
                )
            )
        }
        return claimed
    }

    /// Hands deliveries claimed under `token` back unsent (a replica shutting down, or a batch that would
    /// outlast its lease): due again at `now`, for any replica. Deliveries claimed since by another are left.
    package func release(_ tenant: TenantID, deliveries: [UUID], token: UUID, at now: Date) async throws {
        try await tx.query(
            """
            UPDATE webhook_deliveries SET next_attempt_at = \(now), claim_token = NULL
            WHERE tenant_id = \(tenant.rawValue) AND id = ANY(\(deliveries)) AND status = 'pending'
              AND claim_token = \(token)
            """
        )
    }

    /// Records an attempt made under the claim `token`: delivered, failed for good, or due again at `retryAt`.
    ///
    /// - Returns: `false`, recording nothing, when the claim is no longer current (its lease ran out and
    ///   another replica claimed the delivery, or already recorded it): a late writer never overwrites the
    ///   current holder's outcome.
    @discardableResult
    package func record(
        _ tenant: TenantID, delivery: UUID, token: UUID, status: WebhookDelivery.Status, statusCode: Int?,
        error: String?, retryAt: Date, at now: Date
    ) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE webhook_deliveries
            SET attempts = attempts + 1, status = \(status.rawValue), last_status_code = \(statusCode),
                last_error = \(error), next_attempt_at = \(retryAt), claim_token = NULL,
                delivered_at = CASE WHEN \(status.rawValue) = 'delivered' THEN \(now) ELSE NULL END
            WHERE tenant_id = \(tenant.rawValue) AND id = \(delivery) AND status = 'pending'
              AND claim_token = \(token)
            RETURNING id
            """
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    package func deliveries(_ tenant: TenantID, of webhook: UUID, limit: Int) async throws -> [WebhookDelivery] {
        let rows = try await tx.query(
            """
            SELECT id, webhook_id, event, payload, status, attempts, next_attempt_at, last_status_code, last_error,
                   created_at, delivered_at
            FROM webhook_deliveries WHERE tenant_id = \(tenant.rawValue) AND webhook_id = \(webhook)
            ORDER BY created_at DESC, id LIMIT \(limit)
            """
        )
        var deliveries: [WebhookDelivery] = []
        for try await row in rows.decode((UUID, UUID, String, String, String, Int, Date, Int?, String?, Date, Date?).self) {
            deliveries.append(
                WebhookDelivery(
                    id: row.0, webhook: row.1, event: row.2, payload: row.3,
                    status: WebhookDelivery.Status(rawValue: row.4) ?? .pending, attempts: row.5, nextAttemptAt: row.6,
                    lastStatusCode: row.7, lastError: row.8, createdAt: row.9, deliveredAt: row.10
                )
            )
        }
        return deliveries
    }

    /// Tenants with deliveries due, across tenants (the delivery worker).
    package func tenantsWithDueDeliveries() async throws -> [(tenant: TenantID, msp: MSPID)] {
        let rows = try await tx.query("SELECT tenant_id, msp_id FROM charter_private.tenants_with_due_deliveries()")
        var tenants: [(tenant: TenantID, msp: MSPID)] = []
        for try await (tenant, msp) in rows.decode((UUID, UUID).self) { tenants.append((TenantID(tenant), MSPID(msp))) }
        return tenants
    }
}

extension Transaction {
    package var webhooks: WebhookRepository { WebhookRepository(tx: self) }
}
