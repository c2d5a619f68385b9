package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

/// A tenant's webhooks: the receivers of its requests' events (``RequestEvent``), created with a secret that
/// signs their deliveries, sealed under the key-encryption key and shown once. Sending them is
/// ``WebhookDeliveryService``'s. Authorisation is the caller's.
package struct WebhookService: Sendable {
    /// A new webhook and the secret its deliveries are signed with.
    package struct Created: Sendable {
        package var webhook: Webhook
        package var secret: Data
    }

    let database: Database
    /// Webhooks a tenant may have.
    let maximumPerTenant: Int
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(database: Database, maximumPerTenant: Int, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.maximumPerTenant = maximumPerTenant
        self.now = now
    }

    /// The context a webhook's secret is sealed in.
    package static func sealingContext(_ id: UUID) -> String {
        "webhooks/\(id.uuidString.lowercased())/secret"
    }

    /// The context an MSP webhook's secret is sealed in: bound to the MSP too, so it opens for no tenant's
    /// webhook and no other MSP's.
    package static func sealingContext(_ id: UUID, msp: MSPID) -> String {
        "msps/\(msp.description)/webhooks/\(id.uuidString.lowercased())/secret"
    }

    /// The tenant's webhooks.
    package func list(of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> [Webhook] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.webhooks.list(tenant)
        }
    }

    /// One webhook.
    package func get(_ id: UUID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> Webhook {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.webhooks.get(tenant, id: id)
        }
    }

    /// Creates a webhook posting `events` to `url`, with a new secret sealed by `sealer`.
    ///
    /// - Throws: ``WebhookError/invalidURL``; `QuotaExceeded` past ``maximumPerTenant``.
    package func create(
        url: String, events: [String], isEnabled: Bool, sealer: SecretSealer, of tenant: TenantID, msp: MSPID,
        by caller: Caller
    ) async throws -> Created {
        let (hook, secret) = try makeWebhook(url: url, events: events, isEnabled: isEnabled, sealer: sealer)
        let (id, now) = (hook.id, hook.createdAt)
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.quotas.admitOne(more: .webhooks, in: tenant, limit: maximumPerTenant)
            try await tx.webhooks.create(hook, in: tenant, by: caller.principal?.id.rawValue)
            try await tx.audit.record(
                "webhook.created", on: ("webhook", id.uuidString.lowercased()), after: hook.auditSnapshot, by: caller,
                at: now, in: .tenant(tenant)
            )
        }
        return Created(webhook: hook, secret: secret)
    }

    /// - Throws: ``WebhookError/invalidURL`` unless `url` is an absolute http or https URL.
    static func validate(url: String) throws {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            ["http", "https"].contains(scheme), parsed.host != nil
        else { throw WebhookError.invalidURL }
    }

    /// - Throws: ``WebhookError/noEvents`` when `events` is empty.
    static func validate(events: [String]) throws {
        guard !events.isEmpty else { throw WebhookError.noEvents }
    }

    /// A new webhook (tenant or MSP) and its secret, sealed in the webhook's context.
    ///
    /// - Throws: ``WebhookError/invalidURL``.
    func makeWebhook(
        url: String, events: [String], isEnabled: Bool, sealer: SecretSealer, msp: MSPID? = nil
    ) throws -> (Webhook, Data) {
        try Self.validate(url: url)
        try Self.validate(events: events)
        let id = UUID()
        var random = SystemRandomNumberGenerator()
        let secret = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &random) })
        let context = msp.map { Self.sealingContext(id, msp: $0) } ?? Self.sealingContext(id)
        let hook = Webhook(
            id: id, url: url, events: Array(Set(events)).sorted(),
            secretSealed: try sealer.seal(secret, context: context).description,
            isEnabled: isEnabled, createdAt: now()
        )
        return (hook, secret)
    }

    /// Deletes a webhook and its deliveries.
    package func delete(_ id: UUID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws {
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let hook = try await tx.webhooks.delete(tenant, id: id)
            try await tx.audit.record(
                "webhook.deleted", on: ("webhook", id.uuidString.lowercased()), before: hook.auditSnapshot, by: caller,
                at: now, in: .tenant(tenant)
            )
        }
    }

    /// The webhook's latest deliveries, at most `limit` of them.
    package func deliveries(
        of id: UUID, tenant: TenantID, msp: MSPID, limit: Int, by caller: Caller
    ) async throws -> [WebhookDelivery] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            _ = try await tx.webhooks.get(tenant, id: id)
            return try await tx.webhooks.deliveries(tenant, of: id, limit: limit)
        }
    }
}

/// What the webhook service refuses.
package enum WebhookError: RefusalConvertible, Equatable {
    /// The receiver is not an absolute http or https URL.
    case invalidURL
    /// The webhook would subscribe to no event.
    case noEvents

    package var refusal: Refusal {
        switch self {
        case .invalidURL: Refusal(.invalid, "url must be an absolute http or https URL.", field: "/url")
        case .noEvents: Refusal(.invalid, "events must name at least one event.", field: "/events")
        }
    }
}

extension Webhook {
    /// What the audit log keeps of a webhook: never its secret.
    package var auditSnapshot: String {
        AuditJSON.encode(["id": id.uuidString.lowercased(), "url": url, "events": events, "enabled": isEnabled])
    }
}
