package import CharterCore
package import Foundation
import PostgresNIO

/// An MSP's webhooks, receiving the events of all its tenants, and their delivery log (migration 0023): the
/// same outbox as ``WebhookRepository``'s, kept in tables only an MSP-wide transaction (``Database/withMSP``)
/// sees. Deliveries are queued by ``WebhookRepository/enqueue(_:event:payload:at:)`` from the tenant's
/// transaction; each names the tenant it came from.
package struct MSPWebhookRepository: Sendable {
    let tx: Transaction

    package func create(_ webhook: Webhook, in msp: MSPID, by principal: UUID?) async throws {
        try await tx.query(
            """
            INSERT INTO msp_webhooks (msp_id, id, url, events, secret_sealed, enabled, created_at, created_by)
            VALUES (\(msp.rawValue), \(webhook.id), \(webhook.url), \(webhook.events), \(webhook.secretSealed),
                    \(webhook.isEnabled), \(webhook.createdAt), \(principal))
            """
        )
    }

    /// Takes the MSP's lock for webhook creation until commit, then counts its webhooks.
    ///
    /// - Throws: ``QuotaExceeded`` when the MSP holds `limit` or more already.
    package func admitOne(in msp: MSPID, limit: Int) async throws {
        try await tx.query(
            "SELECT pg_advisory_xact_lock(hashtextextended(\("quota:msp_webhooks:\(msp.rawValue.uuidString)"), 0))"
        )
        let rows = try await tx.query("SELECT count(*) FROM msp_webhooks WHERE msp_id = \(msp.rawValue)")
        for try await count in rows.decode(Int64.self) where count >= Int64(limit) {
            throw QuotaExceeded(quota: .webhooks, limit: limit, isMSP: true)
        }
    }

    package func list(_ msp: MSPID) async throws -> [Webhook] {
        try await webhooks(msp, id: nil)
    }

    /// One webhook; with `locking`, its row stays locked until commit (an update reads what it replaces).
    package func get(_ msp: MSPID, id: UUID, locking: Bool = false) async throws -> Webhook {
        guard let hook = try await webhooks(msp, id: id, locking: locking).first else { throw StoreError.notFound }
        return hook
    }

    /// Stores the webhook's URL, events and `enabled` (its secret and creation stay).
    package func update(_ webhook: Webhook, in msp: MSPID) async throws {
        try await tx.query(
            """
            UPDATE msp_webhooks SET url = \(webhook.url), events = \(webhook.events), enabled = \(webhook.isEnabled)
            WHERE msp_id = \(msp.rawValue) AND id = \(webhook.id)
            """
        )
    }

    private func webhooks(_ msp: MSPID, id: UUID?, locking: Bool = false) async throws -> [Webhook] {
        let rows = try await tx.query(
            """
            SELECT id, url, events, secret_sealed, enabled, created_at FROM msp_webhooks
            WHERE msp_id = \(msp.rawValue) AND (\(id)::uuid IS NULL OR id = \(id))
            ORDER BY created_at, id \(unescaped: locking ? "FOR UPDATE" : "")
            """
        )
        var hooks: [Webhook] = []
        for try await (id, url, events, sealed, enabled, created) in rows.decode(
            (UUID, String, [String], String, Bool, Date).self
        ) {
            hooks.append(
                Webhook(id: id, url: url, events: events, secretSealed: sealed, isEnabled: enabled, createdAt: created)
            )
        }
        return hooks
    }

    package func delete(_ msp: MSPID, id: UUID) async throws -> Webhook {
        let hook = try await get(msp, id: id)
        try await tx.query("DELETE FROM msp_webhooks WHERE msp_id = \(msp.rawValue) AND id = \(id)")
        return hook
    }

    /// Claims up to `limit` due deliveries of the MSP for `lease` under `token`, as
    /// ``WebhookRepository/claimDue(_:limit:lease:token:at:)`` does for a tenant.
    package func claimDue(_ msp: MSPID, limit: Int, lease: TimeInterval, token: UUID, at now: Date) async throws
        -> [(delivery: WebhookDelivery, url: String, secretSealed: String)]
    {
        let rows = try await tx.query(
            """
            WITH due AS MATERIALIZED (
                SELECT id FROM msp_webhook_deliveries
                WHERE msp_id = \(msp.rawValue) AND status = 'pending' AND next_attempt_at <= \(now)
                ORDER BY next_attempt_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            )
            UPDATE msp_webhook_deliveries d
            SET next_attempt_at = \(now.addingTimeInterval(lease)), claim_token = \(token)
            FROM msp_webhooks w
            WHERE d.id IN (SELECT id FROM due)
              AND w.msp_id = d.msp_id AND w.id = d.webhook_id
            RETURNING d.id, d.webhook_id, d.event, d.payload, d.attempts, d.created_at, d.tenant_id, w.url,
                      w.secret_sealed
            """
        )
        var claimed: [(delivery: WebhookDelivery, url: String, secretSealed: String)] = []
        for try await (id, webhook, event, payload, attempts, created, tenant, url, sealed) in rows.decode(
            (UUID, UUID, String, String, Int, Date, UUID, String, String).self
        ) {
            claimed.append(
                (
                    WebhookDelivery(
                        id: id, webhook: webhook, event: event, payload: payload, status: .pending, attempts: attempts,
                        nextAttemptAt: now, lastStatusCode: nil, lastError: nil, createdAt: created, deliveredAt: nil,
                        tenant: TenantID(tenant)
                    ), url, sealed
                )
            )
        }
        return claimed
    }

    /// Hands deliveries claimed under `token` back unsent, due again at `now`.
    package func release(_ msp: MSPID, deliveries: [UUID], token: UUID, at now: Date) async throws {
        try await tx.query(
            """
            UPDATE msp_webhook_deliveries SET next_attempt_at = \(now), claim_token = NULL
            WHERE msp_id = \(msp.rawValue) AND id = ANY(\(deliveries)) AND status = 'pending'
              AND claim_token = \(token)
            """
        )
    }

    /// Records an attempt made under the claim `token`.
    ///
    /// - Returns: `false`, recording nothing, when the claim is no longer current.
    @discardableResult
    package func record(
        _ msp: MSPID, delivery: UUID, token: UUID, status: WebhookDelivery.Status, statusCode: Int?,
        error: String?, retryAt: Date, at now: Date
    ) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE msp_webhook_deliveries
            SET attempts = attempts + 1, status = \(status.rawValue), last_status_code = \(statusCode),
                last_error = \(error), next_attempt_at = \(retryAt), claim_token = NULL,
                delivered_at = CASE WHEN \(status.rawValue) = 'delivered' THEN \(now) ELSE NULL END
            WHERE msp_id = \(msp.rawValue) AND id = \(delivery) AND status = 'pending' AND claim_token = \(token)
            RETURNING id
            """
        )
        for try await _ in rows.decode(UUID.self) { return true }
        return false
    }

    package func deliveries(_ msp: MSPID, of webhook: UUID, limit: Int) async throws -> [WebhookDelivery] {
        let rows = try await tx.query(
            """
            SELECT id, webhook_id, event, payload, status, attempts, next_attempt_at, last_status_code, last_error,
                   created_at, delivered_at, tenant_id
            FROM msp_webhook_deliveries WHERE msp_id = \(msp.rawValue) AND webhook_id = \(webhook)
            ORDER BY created_at DESC, id LIMIT \(limit)
            """
        )
        var deliveries: [WebhookDelivery] = []
        for try await row in rows.decode(
            (UUID, UUID, String, String, String, Int, Date, Int?, String?, Date, Date?, UUID).self
        ) {
            deliveries.append(
                WebhookDelivery(
                    id: row.0, webhook: row.1, event: row.2, payload: row.3,
                    status: WebhookDelivery.Status(rawValue: row.4) ?? .pending, attempts: row.5, nextAttemptAt: row.6,
                    lastStatusCode: row.7, lastError: row.8, createdAt: row.9, deliveredAt: row.10,
                    tenant: TenantID(row.11)
                )
            )
        }
        return deliveries
    }

    /// MSPs with deliveries due, across MSPs (the delivery worker).
    package func mspsWithDueDeliveries() async throws -> [MSPID] {
        let rows = try await tx.query("SELECT msp_id FROM charter_private.msps_with_due_webhook_deliveries()")
        var msps: [MSPID] = []
        for try await msp in rows.decode(UUID.self) { msps.append(MSPID(msp)) }
        return msps
    }
}

extension Transaction {
    package var mspWebhooks: MSPWebhookRepository { MSPWebhookRepository(tx: self) }
}
