import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    func listMSPAPIKeys(_ input: Operations.ListMSPAPIKeys.Input) async throws -> Operations.ListMSPAPIKeys.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.manageAPIKeys, msp: msp)
        let list = try await listKeys(.msp(msp), limit: input.query.limit, cursor: input.query.cursor, scope: scope)
        return .ok(.init(body: .json(list)))
    }

    func createMSPAPIKey(_ input: Operations.CreateMSPAPIKey.Input) async throws -> Operations.CreateMSPAPIKey.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.manageAPIKeys, msp: msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let created = try await createKey(body, scope: .msp(msp), request: scope)
        return .created(.init(body: .json(created)))
    }

    func revokeMSPAPIKey(_ input: Operations.RevokeMSPAPIKey.Input) async throws -> Operations.RevokeMSPAPIKey.Output {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(input.path.msp)
        try scope.principal.authorizeMSP(.manageAPIKeys, msp: msp)
        try await revokeKey(try Input.apiKeyID(input.path.key), scope: .msp(msp), request: scope)
        return .noContent(.init())
    }

    func listTenantAPIKeys(
        _ input: Operations.ListTenantAPIKeys.Input
    ) async throws -> Operations.ListTenantAPIKeys.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.manageAPIKeys, tenant: tenant, of: msp)
        let list = try await listKeys(
            .tenant(msp, tenant),
            limit: input.query.limit,
            cursor: input.query.cursor,
            scope: scope
        )
        return .ok(.init(body: .json(list)))
    }

    func createTenantAPIKey(
        _ input: Operations.CreateTenantAPIKey.Input
    ) async throws -> Operations.CreateTenantAPIKey.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.manageAPIKeys, tenant: tenant, of: msp)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send application/json.") }
        let created = try await createKey(body, scope: .tenant(msp, tenant), request: scope)
        return .created(.init(body: .json(created)))
    }

    func revokeTenantAPIKey(
        _ input: Operations.RevokeTenantAPIKey.Input
    ) async throws -> Operations.RevokeTenantAPIKey.Output {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(input.path.tenant)
        let msp = scope.principal.scope.mspID
        try scope.principal.authorize(.manageAPIKeys, tenant: tenant, of: msp)
        try await revokeKey(try Input.apiKeyID(input.path.key), scope: .tenant(msp, tenant), request: scope)
        return .noContent(.init())
    }

    // MARK: - Shared

    private func listKeys(
        _ keyScope: Principal.Scope,
        limit rawLimit: Int?,
        cursor rawCursor: String?,
        scope: RequestScope
    ) async throws -> Components.Schemas.APIKeyList {
        let limit = try Input.limit(rawLimit)
        let cursor = try Cursor.decodeID(rawCursor, as: APIKeyID.self)
        let keys = try await within(keyScope, scope: scope) { tx in
            try await tx.apiKeys.list(scope: keyScope, after: cursor, limit: limit + 1)
        }
        let page = keys.prefix(limit)
        let next = keys.count > limit ? page.last.map { $0.id.description } : nil
        return .init(items: page.map(Components.Schemas.APIKey.init), nextCursor: next)
    }

    private func createKey(
        _ body: Components.Schemas.APIKeyCreate,
        scope keyScope: Principal.Scope,
        request scope: RequestScope
    ) async throws -> Components.Schemas.APIKeyCreated {
        let name = try Input.name(body.name)
        let role = body.role.role
        try scope.principal.authorizeGrant(role: role, scope: keyScope)
        let now = now()
        if let expiresAt = body.expiresAt, expiresAt <= now {
            throw Problem(.validationFailed, "expires_at must lie in the future.", field: "/expires_at")
        }
        let token = APIKeyToken.generate()
        let key = APIKey(
            id: token.keyID,
            principal: Principal(id: .random(), name: name, role: role, scope: keyScope),
            createdAt: now,
            createdBy: scope.principal.id,
            expiresAt: body.expiresAt,
            revokedAt: nil,
            lastUsedAt: nil
        )
        try await within(keyScope, scope: scope) { tx in
            try await tx.apiKeys.create(key, secretHash: token.secretHash)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "api_key.created",
                    targetType: "api_key",
                    targetID: key.id.description,
                    after: key.auditSnapshot
                ),
                to: Self.chain(of: keyScope)
            )
        }
        return .init(key: .init(key), secret: token.string)
    }

    private func revokeKey(_ id: APIKeyID, scope keyScope: Principal.Scope, request scope: RequestScope) async throws {
        let now = now()
        try await within(keyScope, scope: scope) { tx in
            let before = try await tx.apiKeys.get(id, scope: keyScope)
            guard before.revokedAt == nil else { return }
            let after = try await tx.apiKeys.revoke(id, scope: keyScope, at: now)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now,
                    actor: scope.actor,
                    action: "api_key.revoked",
                    targetType: "api_key",
                    targetID: id.description,
                    before: before.auditSnapshot,
                    after: after.auditSnapshot
                ),
                to: Self.chain(of: keyScope)
            )
        }
    }

    private func within<Result: Sendable>(
        _ keyScope: Principal.Scope,
        scope: RequestScope,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        switch keyScope {
        case .msp(let msp):
            try await database.withMSP(msp, logger: scope.logger, body)
        case .tenant(let msp, let tenant):
            try await database.withTenant(tenant, msp: msp, logger: scope.logger, body)
        }
    }

    private static func chain(of scope: Principal.Scope) -> AuditLog.Chain {
        switch scope {
        case .msp(let msp): .msp(msp)
        case .tenant(_, let tenant): .tenant(tenant)
        }
    }
}

extension Components.Schemas.APIKey {
    init(_ key: APIKey) {
        self.init(
            id: key.id.description,
            name: key.principal.name,
            role: .init(key.principal.role),
            mspId: key.principal.scope.mspID.description,
            tenantId: key.principal.scope.tenantID?.description,
            createdAt: key.createdAt,
            expiresAt: key.expiresAt,
            revokedAt: key.revokedAt
        )
    }
}

extension APIKey {
    /// What the audit log keeps of a key: never its secret or hash.
    var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description,
            "name": principal.name,
            "role": principal.role.rawValue,
            "msp_id": principal.scope.mspID.description,
        ]
        if let tenant = principal.scope.tenantID { snapshot["tenant_id"] = tenant.description }
        if let expiresAt { snapshot["expires_at"] = expiresAt.ISO8601Format() }
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        return AuditJSON.encode(snapshot)
    }
}
