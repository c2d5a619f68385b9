import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

/// The MSP's webhooks (docs/alerts.md, "MSP webhooks"): MSP-wide principals only, since they receive every
/// tenant's events; reading needs any role, changing `admin`.
extension APIHandler {
    func listMSPWebhooks(_ input: Operations.ListMSPWebhooks.Input) async throws -> Operations.ListMSPWebhooks.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let hooks = try await webhooks.list(ofMSP: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(items: hooks.map(Components.Schemas.Webhook.init)))))
    }

    func createMSPWebhook(
        _ input: Operations.CreateMSPWebhook.Input
    ) async throws -> Operations.CreateMSPWebhook.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let sealer = try endpointService.requireKeys().sealer
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let created = try await webhooks.create(
            url: body.url, events: body.events.map(\.rawValue), isEnabled: body.enabled ?? true, sealer: sealer,
            ofMSP: call.msp, by: call.caller
        )
        return .created(
            .init(body: .json(.init(webhook: .init(created.webhook), secret: Base64URL.encode(created.secret))))
        )
    }

    func getMSPWebhook(_ input: Operations.GetMSPWebhook.Input) async throws -> Operations.GetMSPWebhook.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let hook = try await webhooks.get(try Self.webhookID(input.path.id), ofMSP: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(hook))))
    }

    func updateMSPWebhook(
        _ input: Operations.UpdateMSPWebhook.Input
    ) async throws -> Operations.UpdateMSPWebhook.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        let id = try Self.webhookID(input.path.id)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let hook = try await webhooks.update(
            id, ofMSP: call.msp, url: body.url, events: body.events?.map(\.rawValue), isEnabled: body.enabled,
            by: call.caller
        )
        return .ok(.init(body: .json(.init(hook))))
    }

    func deleteMSPWebhook(
        _ input: Operations.DeleteMSPWebhook.Input
    ) async throws -> Operations.DeleteMSPWebhook.Output {
        let call = try MSPCall.authorize(.configure, msp: input.path.msp)
        try await webhooks.delete(try Self.webhookID(input.path.id), ofMSP: call.msp, by: call.caller)
        return .noContent(.init())
    }

    func listMSPWebhookDeliveries(
        _ input: Operations.ListMSPWebhookDeliveries.Input
    ) async throws -> Operations.ListMSPWebhookDeliveries.Output {
        let call = try MSPCall.authorize(.read, msp: input.path.msp)
        let deliveries = try await webhooks.deliveries(
            of: try Self.webhookID(input.path.id), msp: call.msp, limit: try Input.limit(input.query.limit),
            by: call.caller
        )
        return .ok(.init(body: .json(.init(items: deliveries.map(Components.Schemas.WebhookDelivery.init)))))
    }
}
