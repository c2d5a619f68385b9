import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Crypto
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let hooks = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.webhooks.list(tenant)
        }
        return .ok(.init(body: .json(.init(items: hooks.map(Components.Schemas.Webhook.init)))))
    }

    func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let services = try EndpointServices.require(endpoints)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        guard let url = URL(string: body.url), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host != nil
        else {
            throw Problem(.validationFailed, "url must be an absolute http or https URL.", field: "/url")
        }
        let events = Array(Set(body.events.map(\.rawValue))).sorted()
        let id = UUID()
        let secret = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let now = now()
        let hook = Webhook(
            id: id, url: body.url, events: events,
            secretSealed: try services.sealer.seal(secret, context: Webhooks.sealingContext(id)).description,
            isEnabled: body.enabled ?? true, createdAt: now
        )
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.quotas.admitOne(more: .webhooks, in: tenant, limit: quotas.webhooksPerTenant)
            try await tx.webhooks.create(hook, in: tenant, by: scope.principal.id.rawValue)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "webhook.created", targetType: "webhook",
                    targetID: id.uuidString.lowercased(), after: hook.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return .created(.init(body: .json(.init(webhook: .init(hook), secret: Base64URL.encode(secret)))))
    }

    func getWebhook(_ input: Operations.GetWebhook.Input) async throws -> Operations.GetWebhook.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let id = try Self.webhookID(input.path.id)
        let hook = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.webhooks.get(tenant, id: id)
        }
        return .ok(.init(body: .json(.init(hook))))
    }

    func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id = try Self.webhookID(input.path.id)
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let hook = try await tx.webhooks.delete(tenant, id: id)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "webhook.deleted", targetType: "webhook",
                    targetID: id.uuidString.lowercased(), before: hook.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return .noContent(.init())
    }

    func listWebhookDeliveries(
        _ input: Operations.ListWebhookDeliveries.Input
    ) async throws -> Operations.ListWebhookDeliveries.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let id = try Self.webhookID(input.path.id)
        let limit = try Input.limit(input.query.limit)
        let deliveries = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            _ = try await tx.webhooks.get(tenant, id: id)
            return try await tx.webhooks.deliveries(tenant, of: id, limit: limit)
        }
        return .ok(.init(body: .json(.init(items: deliveries.map(Components.Schemas.WebhookDelivery.init)))))
    }

    private static func webhookID(_ raw: String) throws -> UUID {
        guard let id = UUID(uuidString: raw) else {
            throw Problem(.malformedRequest, "The id must be a UUID such as 0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80.", field: "id")
        }
        return id
    }
}

extension Webhook {
    /// What the audit log keeps of a webhook: never its secret.
    var auditSnapshot: String {
        AuditJSON.encode(["id": id.uuidString.lowercased(), "url": url, "events": events, "enabled": isEnabled])
    }
}

extension Components.Schemas.Webhook {
    init(_ hook: Webhook) {
        self.init(
            id: hook.id.uuidString.lowercased(), url: hook.url, events: hook.events.compactMap(Components.Schemas.WebhookEvent.init(rawValue:)),
            enabled: hook.isEnabled, createdAt: hook.createdAt
        )
    }
}

extension Components.Schemas.WebhookDelivery {
    init(_ delivery: CharterStore.WebhookDelivery) {
        self.init(
            id: delivery.id.uuidString.lowercased(), event: delivery.event,
            status: .init(rawValue: delivery.status.rawValue) ?? .pending, attempts: delivery.attempts,
            nextAttemptAt: delivery.status == .pending ? delivery.nextAttemptAt : nil,
            lastStatusCode: delivery.lastStatusCode, lastError: delivery.lastError, createdAt: delivery.createdAt,
            deliveredAt: delivery.deliveredAt
        )
    }
}
