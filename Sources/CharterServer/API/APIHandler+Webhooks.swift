import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let hooks = try await webhooks.list(of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(items: hooks.map(Components.Schemas.Webhook.init)))))
    }

    func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let sealer = try endpointService.requireKeys().sealer
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let created = try await webhooks.create(
            url: body.url, events: body.events.map(\.rawValue), isEnabled: body.enabled ?? true, sealer: sealer,
            of: call.tenant, msp: call.msp, by: call.caller
        )
        return .created(
            .init(body: .json(.init(webhook: .init(created.webhook), secret: Base64URL.encode(created.secret))))
        )
    }

    func getWebhook(_ input: Operations.GetWebhook.Input) async throws -> Operations.GetWebhook.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try Self.webhookID(input.path.id)
        let hook = try await webhooks.get(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(hook))))
    }

    func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        try await webhooks.delete(try Self.webhookID(input.path.id), of: call.tenant, msp: call.msp, by: call.caller)
        return .noContent(.init())
    }

    func listWebhookDeliveries(
        _ input: Operations.ListWebhookDeliveries.Input
    ) async throws -> Operations.ListWebhookDeliveries.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try Self.webhookID(input.path.id)
        let deliveries = try await webhooks.deliveries(
            of: id, tenant: call.tenant, msp: call.msp, limit: try Input.limit(input.query.limit), by: call.caller
        )
        return .ok(.init(body: .json(.init(items: deliveries.map(Components.Schemas.WebhookDelivery.init)))))
    }

    static func webhookID(_ raw: String) throws -> UUID {
        guard let id = UUID(uuidString: raw) else {
            throw Problem(.malformedRequest, "The id must be a UUID such as 0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80.", field: "id")
        }
        return id
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
            deliveredAt: delivery.deliveredAt, tenantId: delivery.tenant?.description
        )
    }
}
