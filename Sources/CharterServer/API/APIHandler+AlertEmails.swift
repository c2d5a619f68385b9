import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

/// Alert email recipients (docs/alerts.md, "Email"): a tenant's (any role reads, `admin` changes) and an MSP's,
/// of all its tenants (MSP-wide principals only). Both go through the same calls below.
extension APIHandler {
    /// Whose recipients a route is about, and who asks.
    typealias AlertEmailCall = (owner: AlertEmail.Owner, msp: MSPID, caller: Caller)

    static func tenantAlertEmails(_ permission: Permission, tenant raw: String) throws -> AlertEmailCall {
        let call = try TenantCall.authorize(permission, tenant: raw)
        return (.tenant(call.tenant), call.msp, call.caller)
    }

    static func mspAlertEmails(_ permission: Permission, msp raw: String) throws -> AlertEmailCall {
        let call = try MSPCall.authorize(permission, msp: raw)
        return (.msp(call.msp), call.msp, call.caller)
    }

    func listAlertEmails(_ call: AlertEmailCall) async throws -> Components.Schemas.AlertEmailList {
        let recipients = try await alertEmails.list(of: call.owner, msp: call.msp, by: call.caller)
        return .init(items: recipients.map(Components.Schemas.AlertEmail.init))
    }

    func createAlertEmail(
        _ call: AlertEmailCall, _ body: Components.Schemas.AlertEmailCreate
    ) async throws -> Components.Schemas.AlertEmail {
        .init(
            try await alertEmails.create(
                address: body.address, events: body.events, isEnabled: body.enabled ?? true, of: call.owner,
                msp: call.msp, by: call.caller
            )
        )
    }

    func getAlertEmail(_ call: AlertEmailCall, id raw: String) async throws -> Components.Schemas.AlertEmail {
        .init(try await alertEmails.get(try Self.webhookID(raw), of: call.owner, msp: call.msp, by: call.caller))
    }

    func updateAlertEmail(
        _ call: AlertEmailCall, id raw: String, _ body: Components.Schemas.AlertEmailUpdate
    ) async throws -> Components.Schemas.AlertEmail {
        .init(
            try await alertEmails.update(
                try Self.webhookID(raw), of: call.owner, msp: call.msp, address: body.address, events: body.events,
                isEnabled: body.enabled, by: call.caller
            )
        )
    }

    func deleteAlertEmail(_ call: AlertEmailCall, id raw: String) async throws {
        try await alertEmails.delete(try Self.webhookID(raw), of: call.owner, msp: call.msp, by: call.caller)
    }
}

// MARK: - Tenant routes

extension APIHandler {
    func listAlertEmails(_ input: Operations.ListAlertEmails.Input) async throws -> Operations.ListAlertEmails.Output {
        .ok(.init(body: .json(try await listAlertEmails(try Self.tenantAlertEmails(.read, tenant: input.path.tenant)))))
    }

    func createAlertEmail(_ input: Operations.CreateAlertEmail.Input) async throws -> Operations.CreateAlertEmail.Output {
        let call = try Self.tenantAlertEmails(.configure, tenant: input.path.tenant)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        return .created(.init(body: .json(try await createAlertEmail(call, body))))
    }

    func getAlertEmail(_ input: Operations.GetAlertEmail.Input) async throws -> Operations.GetAlertEmail.Output {
        let call = try Self.tenantAlertEmails(.read, tenant: input.path.tenant)
        return .ok(.init(body: .json(try await getAlertEmail(call, id: input.path.id))))
    }

    func updateAlertEmail(_ input: Operations.UpdateAlertEmail.Input) async throws -> Operations.UpdateAlertEmail.Output {
        let call = try Self.tenantAlertEmails(.configure, tenant: input.path.tenant)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        return .ok(.init(body: .json(try await updateAlertEmail(call, id: input.path.id, body))))
    }

    func deleteAlertEmail(_ input: Operations.DeleteAlertEmail.Input) async throws -> Operations.DeleteAlertEmail.Output {
        try await deleteAlertEmail(try Self.tenantAlertEmails(.configure, tenant: input.path.tenant), id: input.path.id)
        return .noContent(.init())
    }
}

// MARK: - MSP routes

extension APIHandler {
    func listMSPAlertEmails(
        _ input: Operations.ListMSPAlertEmails.Input
    ) async throws -> Operations.ListMSPAlertEmails.Output {
        .ok(.init(body: .json(try await listAlertEmails(try Self.mspAlertEmails(.read, msp: input.path.msp)))))
    }

    func createMSPAlertEmail(
        _ input: Operations.CreateMSPAlertEmail.Input
    ) async throws -> Operations.CreateMSPAlertEmail.Output {
        let call = try Self.mspAlertEmails(.configure, msp: input.path.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        return .created(.init(body: .json(try await createAlertEmail(call, body))))
    }

    func getMSPAlertEmail(_ input: Operations.GetMSPAlertEmail.Input) async throws -> Operations.GetMSPAlertEmail.Output {
        let call = try Self.mspAlertEmails(.read, msp: input.path.msp)
        return .ok(.init(body: .json(try await getAlertEmail(call, id: input.path.id))))
    }

    func updateMSPAlertEmail(
        _ input: Operations.UpdateMSPAlertEmail.Input
    ) async throws -> Operations.UpdateMSPAlertEmail.Output {
        let call = try Self.mspAlertEmails(.configure, msp: input.path.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        return .ok(.init(body: .json(try await updateAlertEmail(call, id: input.path.id, body))))
    }

    func deleteMSPAlertEmail(
        _ input: Operations.DeleteMSPAlertEmail.Input
    ) async throws -> Operations.DeleteMSPAlertEmail.Output {
        try await deleteAlertEmail(try Self.mspAlertEmails(.configure, msp: input.path.msp), id: input.path.id)
        return .noContent(.init())
    }
}

extension Components.Schemas.AlertEmail {
    init(_ recipient: AlertEmail) {
        self.init(
            id: recipient.id.uuidString.lowercased(), address: recipient.address, events: recipient.events,
            enabled: recipient.isEnabled, createdAt: recipient.createdAt
        )
    }
}
