package import CharterCore
import CharterJSON
package import CharterStore
package import Foundation

/// The events of things going wrong in a tenant, beyond requests (docs/alerts.md). Each is queued in the
/// transaction that records what happened, once per occurrence, for the tenant's and its MSP's webhooks
/// subscribed to it (delivered by ``WebhookDeliveryService``, signed and retried as request events are) and, when
/// the server sends email, for their alert email recipients (sent by ``EmailDeliveryService``).
package enum AlertEvent {
    /// A directory sync run ended failed.
    package static let syncFailed = "directory.sync_failed"
    /// A directory sync run was held by the deletion guard (`needs_confirmation`).
    package static let syncHeld = "directory.sync_held"
    /// A device was revoked (by an administrator, or replaced by an approved enrollment).
    package static let deviceRevoked = "device.revoked"
    /// An agent reported a bundle it refused (its `bundle.rejected` audit event).
    package static let bundleRejected = "bundle.rejected"
    /// The tenant's audit chain failed verification (``AlertService/chainBroken(tenant:msp:breakSequence:reason:eventsChecked:logger:)``).
    package static let chainBroken = "audit.chain_broken"
    package static let all = [syncFailed, syncHeld, deviceRevoked, bundleRejected, chainBroken]

    /// Queues `event` for the webhooks: `{"event", "occurred_at", "tenant_id", <subject>: <snapshot>}`, the
    /// snapshot being the audit log's canonical JSON of the thing it names; with `emails`, also the email
    /// (``AlertEmailText``) to the tenant's recipients of it and, as another message, to its MSP's.
    static func enqueue(
        _ event: String, in tenant: TenantID, subject: String, snapshot: String, at now: Date, emails: Bool,
        tx: Transaction
    ) async throws {
        let object = (try? JSONParser.parse(Data(snapshot.utf8))) ?? .object([:])
        let payload = AuditJSON.encode([
            "event": event, "occurred_at": now.ISO8601Format(), "tenant_id": tenant.description, subject: object,
        ])
        try await tx.webhooks.enqueue(tenant, event: event, payload: payload, at: now)
        guard emails else { return }
        let text = AlertEmailText(
            event: event, tenant: try await tx.tenants.get(tenant), subject: subject, snapshot: object, at: now
        )
        let recipients = try await tx.alertEmails(of: .tenant(tenant)).addresses(for: event)
        if !recipients.isEmpty {
            try await tx.email.enqueue(
                EmailNotification(
                    id: UUID(), topic: .alert(event), recipients: Array(recipients.prefix(50)), subject: text.subject,
                    body: text.body, createdAt: now
                ),
                in: tenant
            )
        }
        try await tx.email.enqueueForMSP(alert: event, subject: text.subject, body: text.body, at: now)
    }
}
