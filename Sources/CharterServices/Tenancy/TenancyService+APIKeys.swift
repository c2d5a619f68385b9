package import CharterCore
package import CharterStore
package import Foundation

extension TenancyService {
    /// A new key and its secret, which is shown once and never stored.
    package struct CreatedKey: Sendable {
        package var key: APIKey
        package var secret: String
    }

    /// The keys of `scope` (an MSP's own or a tenant's) by id after `cursor`, at most `limit` of them.
    package func keys(of scope: Principal.Scope, after cursor: APIKeyID?, limit: Int, by caller: Caller) async throws
        -> [APIKey]
    {
        try await within(scope, caller) { tx in try await tx.apiKeys.list(scope: scope, after: cursor, limit: limit) }
    }

    /// Creates a key named `name` (already validated) with `role` in `scope`, audited on the scope's chain.
    ///
    /// - Throws: `AccessDenial.cannotGrantBroader` when the calling principal would grant more than it has;
    ///   ``TenancyError/expiryInPast`` for an `expiresAt` not in the future.
    package func createKey(
        named name: String, role: Role, in scope: Principal.Scope, expiresAt: Date?, by caller: Caller
    ) async throws -> CreatedKey {
        try caller.principal?.authorizeGrant(role: role, scope: scope)
        let now = now()
        if let expiresAt, expiresAt <= now { throw TenancyError.expiryInPast }
        let secret = newKeySecret()
        let key = APIKey(
            id: secret.keyID,
            principalID: .random(), name: name, grant: Grant(role: role, scope: scope),
            createdAt: now,
            createdBy: caller.principal?.id,
            expiresAt: expiresAt,
            revokedAt: nil,
            lastUsedAt: nil
        )
        try await within(scope, caller) { tx in
            try await tx.apiKeys.create(key, secretHash: secret.secretHash)
            try await tx.audit.record(
                "api_key.created", on: ("api_key", key.id.description), after: key.auditSnapshot, by: caller, at: now,
                in: Self.chain(of: scope)
            )
        }
        return CreatedKey(key: key, secret: secret.token)
    }

    /// Revokes the key; revoking a revoked key changes and audits nothing.
    ///
    /// - Throws: `StoreError.notFound` for a key not in `scope`.
    package func revokeKey(_ id: APIKeyID, in scope: Principal.Scope, by caller: Caller) async throws {
        let now = now()
        try await within(scope, caller) { tx in
            let before = try await tx.apiKeys.get(id, scope: scope)
            guard before.revokedAt == nil else { return }
            let after = try await tx.apiKeys.revoke(id, scope: scope, at: now)
            try await tx.audit.record(
                "api_key.revoked", on: ("api_key", id.description), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: Self.chain(of: scope)
            )
        }
    }

    /// A transaction in the key scope: the MSP's for MSP-wide keys, the tenant's for a tenant's.
    private func within<Result: Sendable>(
        _ scope: Principal.Scope, _ caller: Caller, _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        switch scope {
        case .msp(let msp):
            try await database.withMSP(msp, logger: caller.logger, body)
        case .tenant(let msp, let tenant):
            try await database.withTenant(tenant, msp: msp, logger: caller.logger, body)
        }
    }

    private static func chain(of scope: Principal.Scope) -> AuditLog.Chain {
        switch scope {
        case .msp(let msp): .msp(msp)
        case .tenant(_, let tenant): .tenant(tenant)
        }
    }
}

extension APIKey {
    /// What the audit log keeps of a key: never its secret or hash.
    package var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description,
            "name": name,
            "role": grant.role.rawValue,
            "msp_id": grant.scope.mspID.description,
        ]
        if let tenant = grant.scope.tenantID { snapshot["tenant_id"] = tenant.description }
        if let expiresAt { snapshot["expires_at"] = expiresAt.ISO8601Format() }
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        return AuditJSON.encode(snapshot)
    }
}
