import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - Global settings

    func getSettings(_ input: Operations.GetSettings.Input) async throws -> Operations.GetSettings.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let stored = try await policy.settings(of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(stored.version)),
                body: .json(try PolicyDocuments.settingsDocument(stored.settings))
            )
        )
    }

    func replaceSettings(_ input: Operations.ReplaceSettings.Input) async throws -> Operations.ReplaceSettings.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let stored = try await policy.replaceSettings(
            of: call.tenant, msp: call.msp, with: try DocumentBody.require(),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .ok(
            .init(
                headers: .init(eTag: ETag.value(stored.version)),
                body: .json(try PolicyDocuments.settingsDocument(stored.settings))
            )
        )
    }

    // MARK: - Subsettings

    func listSubsettings(_ input: Operations.ListSubsettings.Input) async throws -> Operations.ListSubsettings.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let list = try await policy.subsettings(of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(items: try list.map(Components.Schemas.Subsetting.init)))))
    }

    func createSubsetting(_ input: Operations.CreateSubsetting.Input) async throws -> Operations.CreateSubsetting.Output
    {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let stored = try await policy.createSubsetting(
            of: call.tenant, msp: call.msp, from: try DocumentBody.require(), at: input.query.position, by: call.caller
        )
        return .created(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func getSubsetting(_ input: Operations.GetSubsetting.Input) async throws -> Operations.GetSubsetting.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id = try Input.subsettingID(input.path.id)
        let stored = try await policy.subsetting(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func replaceSubsetting(
        _ input: Operations.ReplaceSubsetting.Input
    ) async throws -> Operations.ReplaceSubsetting.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try Input.subsettingID(input.path.id)
        let stored = try await policy.replaceSubsetting(
            id, of: call.tenant, msp: call.msp, with: try DocumentBody.require(),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func updateSubsetting(_ input: Operations.UpdateSubsetting.Input) async throws -> Operations.UpdateSubsetting.Output
    {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try Input.subsettingID(input.path.id)
        let stored = try await policy.updateSubsetting(
            id, of: call.tenant, msp: call.msp, patch: try DocumentBody.require(),
            expectedVersion: ETag.expectedVersion(input.headers.ifMatch), by: call.caller
        )
        return .ok(.init(headers: .init(eTag: ETag.value(stored.version)), body: .json(try .init(stored))))
    }

    func deleteSubsetting(_ input: Operations.DeleteSubsetting.Input) async throws -> Operations.DeleteSubsetting.Output
    {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id = try Input.subsettingID(input.path.id)
        try await policy.deleteSubsetting(
            id, of: call.tenant, msp: call.msp, expectedVersion: ETag.expectedVersion(input.headers.ifMatch),
            by: call.caller
        )
        return .noContent(.init())
    }

    func reorderSubsettings(
        _ input: Operations.ReorderSubsettings.Input
    ) async throws -> Operations.ReorderSubsettings.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let ids = try Input.subsettingOrder(body.ids)
        let list = try await policy.reorderSubsettings(of: call.tenant, msp: call.msp, to: ids, by: call.caller)
        return .ok(.init(body: .json(.init(items: try list.map(Components.Schemas.Subsetting.init)))))
    }

    // MARK: - Effective policy

    func getEffectivePolicy(
        _ input: Operations.GetEffectivePolicy.Input
    ) async throws -> Operations.GetEffectivePolicy.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let user = try input.query.user.map { try Input.objectGUID($0, field: "user") }
        let computer = try input.query.computer.map { try Input.objectGUID($0, field: "computer") }
        let explanation = try await policy.explain(
            user: user, computer: computer, of: call.tenant, msp: call.msp, by: call.caller
        )
        return .ok(.init(body: .json(try .init(explanation, user: user, computer: computer))))
    }
}

extension Input {
    /// An objectGUID parameter.
    static func objectGUID(_ raw: String, field: String) throws -> ObjectGUID {
        guard let guid = ObjectGUID(raw) else {
            throw Problem(.malformedRequest, "\(field) must be an objectGUID such as 4f3c2a1e-….", field: field)
        }
        return guid
    }

    static func subsettingID(_ raw: String) throws -> SubsettingID {
        guard let id = SubsettingID(raw) else {
            throw Problem(.malformedRequest, "The subsetting id must be a UUID.", field: "id")
        }
        return id
    }

    /// The ids of a reorder request, each a UUID.
    static func subsettingOrder(_ raw: [String]) throws -> [SubsettingID] {
        try raw.enumerated().map { index, text in
            guard let id = SubsettingID(text) else {
                throw Problem(.validationFailed, "'\(text)' is not a subsetting id.", field: "/ids/\(index)")
            }
            return id
        }
    }
}
