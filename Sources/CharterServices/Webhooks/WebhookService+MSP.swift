package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

/// An MSP's webhooks: receivers of the events of every tenant of the MSP (docs/alerts.md, "MSP webhooks"),
/// kept where only an MSP-wide transaction sees them. Created, sealed, audited and delivered as a tenant's are;
/// the MSP may have as many as a tenant (``maximumPerTenant``). Authorisation is the caller's.
extension WebhookService {
    /// The MSP's webhooks.
    package func list(ofMSP msp: MSPID, by caller: Caller) async throws -> [Webhook] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.mspWebhooks.list(msp)
        }
    }

    /// One of the MSP's webhooks.
    package func get(_ id: UUID, ofMSP msp: MSPID, by caller: Caller) async throws -> Webhook {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.mspWebhooks.get(msp, id: id)
        }
    }

    /// Creates an MSP webhook posting `events` of every tenant of the MSP to `url`, with a new secret sealed by
    /// `sealer`.
    ///
    /// - Throws: ``WebhookError/invalidURL``; `QuotaExceeded` past ``maximumPerTenant``.
    package func create(
        url: String, events: [String], isEnabled: Bool, sealer: SecretSealer, ofMSP msp: MSPID, by caller: Caller
    ) async throws -> Created {
        let (hook, secret) = try makeWebhook(url: url, events: events, isEnabled: isEnabled, sealer: sealer, msp: msp)
        try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.mspWebhooks.admitOne(in: msp, limit: maximumPerTenant)
            try await tx.mspWebhooks.create(hook, in: msp, by: caller.principal?.id.rawValue)
            try await tx.audit.record(
                "msp_webhook.created", on: ("msp_webhook", hook.id.uuidString.lowercased()),
                after: hook.auditSnapshot, by: caller, at: hook.createdAt, in: .msp(msp)
            )
        }
        return Created(webhook: hook, secret: secret)
    }

    /// Changes what is given of an MSP webhook's URL, events and `enabled`; the secret stays. A disabled
    /// webhook is queued nothing; what was queued before is still sent.
    ///
    /// - Throws: ``WebhookError/invalidURL``, ``WebhookError/noEvents``; `StoreError.notFound`.
    package func update(
        _ id: UUID, ofMSP msp: MSPID, url: String?, events: [String]?, isEnabled: Bool?, by caller: Caller
    ) async throws -> Webhook {
        if let url { try Self.validate(url: url) }
        if let events { try Self.validate(events: events) }
        let now = now()
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            let before = try await tx.mspWebhooks.get(msp, id: id, locking: true)
            var after = before
            if let url { after.url = url }
            if let events { after.events = Array(Set(events)).sorted() }
            if let isEnabled { after.isEnabled = isEnabled }
            guard after != before else { return before }
            try await tx.mspWebhooks.update(after, in: msp)
            try await tx.audit.record(
                "msp_webhook.updated", on: ("msp_webhook", id.uuidString.lowercased()), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: .msp(msp)
            )
            return after
        }
    }

    /// Deletes an MSP webhook and its deliveries.
    package func delete(_ id: UUID, ofMSP msp: MSPID, by caller: Caller) async throws {
        let now = now()
        try await database.withMSP(msp, logger: caller.logger) { tx in
            let hook = try await tx.mspWebhooks.delete(msp, id: id)
            try await tx.audit.record(
                "msp_webhook.deleted", on: ("msp_webhook", id.uuidString.lowercased()), before: hook.auditSnapshot,
                by: caller, at: now, in: .msp(msp)
            )
        }
    }

    /// The MSP webhook's latest deliveries, at most `limit` of them, each naming its tenant.
    package func deliveries(of id: UUID, msp: MSPID, limit: Int, by caller: Caller) async throws -> [WebhookDelivery] {
        try await database.withMSP(msp, logger: caller.logger) { tx in
            _ = try await tx.mspWebhooks.get(msp, id: id)
            return try await tx.mspWebhooks.deliveries(msp, of: id, limit: limit)
        }
    }
}
