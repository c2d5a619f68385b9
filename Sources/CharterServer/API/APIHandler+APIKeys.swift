import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listMSPAPIKeys(_ input: Operations.ListMSPAPIKeys.Input) async throws -> Operations.ListMSPAPIKeys.Output {
        let call = try MSPCall.authorize(.manageAPIKeys, msp: input.path.msp)
        let list = try await listKeys(
            .msp(call.msp), limit: input.query.limit, cursor: input.query.cursor, by: call.caller
        )
        return .ok(.init(body: .json(list)))
    }

    func createMSPAPIKey(_ input: Operations.CreateMSPAPIKey.Input) async throws -> Operations.CreateMSPAPIKey.Output {
        let call = try MSPCall.authorize(.manageAPIKeys, msp: input.path.msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        return .created(.init(body: .json(try await createKey(body, in: .msp(call.msp), by: call.caller))))
    }

    func revokeMSPAPIKey(_ input: Operations.RevokeMSPAPIKey.Input) async throws -> Operations.RevokeMSPAPIKey.Output {
        let call = try MSPCall.authorize(.manageAPIKeys, msp: input.path.msp)
        try await tenancy.revokeKey(try Input.apiKeyID(input.path.key), in: .msp(call.msp), by: call.caller)
        return .noContent(.init())
    }

    func listTenantAPIKeys(
        _ input: Operations.ListTenantAPIKeys.Input
    ) async throws -> Operations.ListTenantAPIKeys.Output {
        let call = try TenantCall.authorize(.manageAPIKeys, tenant: input.path.tenant)
        let list = try await listKeys(
            .tenant(call.msp, call.tenant), limit: input.query.limit, cursor: input.query.cursor, by: call.caller
        )
        return .ok(.init(body: .json(list)))
    }

    func createTenantAPIKey(
        _ input: Operations.CreateTenantAPIKey.Input
    ) async throws -> Operations.CreateTenantAPIKey.Output {
        let call = try TenantCall.authorize(.manageAPIKeys, tenant: input.path.tenant)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let created = try await createKey(body, in: .tenant(call.msp, call.tenant), by: call.caller)
        return .created(.init(body: .json(created)))
    }

    func revokeTenantAPIKey(
        _ input: Operations.RevokeTenantAPIKey.Input
    ) async throws -> Operations.RevokeTenantAPIKey.Output {
        let call = try TenantCall.authorize(.manageAPIKeys, tenant: input.path.tenant)
        try await tenancy.revokeKey(
            try Input.apiKeyID(input.path.key), in: .tenant(call.msp, call.tenant), by: call.caller
        )
        return .noContent(.init())
    }

    // MARK: - Shared

    private func listKeys(
        _ keyScope: Principal.Scope, limit rawLimit: Int?, cursor rawCursor: String?, by caller: Caller
    ) async throws -> Components.Schemas.APIKeyList {
        let limit = try Input.limit(rawLimit)
        let cursor = try Cursor.decodeID(rawCursor, as: APIKeyID.self)
        let keys = try await tenancy.keys(of: keyScope, after: cursor, limit: limit + 1, by: caller)
        let page = keys.prefix(limit)
        let next = keys.count > limit ? page.last.map { $0.id.description } : nil
        return .init(items: page.map(Components.Schemas.APIKey.init), nextCursor: next)
    }

    private func createKey(
        _ body: Components.Schemas.APIKeyCreate, in keyScope: Principal.Scope, by caller: Caller
    ) async throws -> Components.Schemas.APIKeyCreated {
        let created = try await tenancy.createKey(
            named: try Input.name(body.name), role: body.role.role, in: keyScope, expiresAt: body.expiresAt, by: caller
        )
        return .init(key: .init(created.key), secret: created.secret)
    }
}

extension TenancyService.KeySecret {
    /// A new `chtr_` bearer token (``APIKeyToken``).
    static func generate() -> Self {
        let token = APIKeyToken.generate()
        return Self(keyID: token.keyID, secretHash: token.secretHash, token: token.string)
    }
}

extension Components.Schemas.APIKey {
    init(_ key: APIKey) {
        self.init(
            id: key.id.description,
            name: key.name,
            role: .init(key.grant.role),
            mspId: key.grant.scope.mspID.description,
            tenantId: key.grant.scope.tenantID?.description,
            createdAt: key.createdAt,
            expiresAt: key.expiresAt,
            revokedAt: key.revokedAt
        )
    }
}
