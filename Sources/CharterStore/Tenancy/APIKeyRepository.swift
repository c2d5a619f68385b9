package import CharterCore
package import Foundation
import PostgresNIO

/// API keys and the principals they authenticate.
package struct APIKeyRepository: Sendable {
    let tx: Transaction

    /// What authentication needs to know of a key: the hash to compare and the principal it stands for.
    package struct Credential: Sendable {
        package var secretHash: [UInt8]
        package var principal: Principal
    }

    private typealias Row = (UUID, UUID, UUID, UUID?, String, String, Date, UUID?, Date?, Date?, Date?)

    private static let columns = """
        SELECT k.id, p.id, p.msp_id, p.tenant_id, p.name, p.role, k.created_at, k.created_by,
               k.expires_at, k.revoked_at, k.last_used_at
        FROM api_keys k JOIN principals p ON p.msp_id = k.msp_id AND p.id = k.principal_id
        """

    private static func key(_ row: Row) throws -> APIKey {
        guard let role = Role(rawValue: row.5) else { throw StoreError.unexpected(sqlState: "role") }
        let msp = MSPID(row.2)
        let scope: Principal.Scope = row.3.map { .tenant(msp, TenantID($0)) } ?? .msp(msp)
        return APIKey(
            id: APIKeyID(row.0),
            principalID: PrincipalID(row.1), name: row.4, grant: Grant(role: role, scope: scope),
            createdAt: row.6,
            createdBy: row.7.map(PrincipalID.init),
            expiresAt: row.8,
            revokedAt: row.9,
            lastUsedAt: row.10
        )
    }

    /// Looks a key up for authentication, across tenants, through the one function that allows it.
    ///
    /// Returns `nil` for unknown, revoked or expired keys and for keys of deleted tenants.
    package func credential(for id: APIKeyID) async throws -> Credential? {
        let rows = try await tx.query(
            """
            SELECT secret_hash, principal_id, msp_id, tenant_id, name, role
            FROM charter_private.api_key_credential(\(id.rawValue))
            """
        )
        for try await (hash, principalID, mspID, tenantID, name, role) in rows.decode(
            (Data, UUID, UUID, UUID?, String, String).self
        ) {
            guard let role = Role(rawValue: role) else { return nil }
            let msp = MSPID(mspID)
            let scope: Principal.Scope = tenantID.map { .tenant(msp, TenantID($0)) } ?? .msp(msp)
            return Credential(
                secretHash: Array(hash),
                principal: Principal(id: PrincipalID(principalID), name: name, role: role, scope: scope)
            )
        }
        return nil
    }

    /// Stores a new principal and its key; only the SHA-256 of the secret is kept.
    package func create(_ key: APIKey, secretHash: [UInt8]) async throws {
        let scope = key.grant.scope
        try await tx.query(
            """
            INSERT INTO principals (msp_id, id, tenant_id, name, role, created_at)
            VALUES (\(scope.mspID.rawValue), \(key.principalID.rawValue),
                    \(scope.tenantID?.rawValue), \(key.name), \(key.grant.role.rawValue),
                    \(key.createdAt))
            """
        )
        try await tx.query(
            """
            INSERT INTO api_keys (msp_id, id, principal_id, tenant_id, secret_hash, created_at, created_by, expires_at)
            VALUES (\(scope.mspID.rawValue), \(key.id.rawValue), \(key.principalID.rawValue),
                    \(scope.tenantID?.rawValue), \(Data(secretHash)), \(key.createdAt),
                    \(key.createdBy?.rawValue), \(key.expiresAt))
            """
        )
    }

    /// A page of the keys of one scope (MSP-wide keys, or one tenant's keys), revoked ones included.
    package func list(scope: Principal.Scope, after cursor: APIKeyID?, limit: Int) async throws -> [APIKey] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE k.msp_id = \(scope.mspID.rawValue)
              AND k.tenant_id IS NOT DISTINCT FROM \(scope.tenantID?.rawValue)::uuid
              AND (\(cursor?.rawValue)::uuid IS NULL OR k.id > \(cursor?.rawValue))
            ORDER BY k.id LIMIT \(limit)
            """
        )
        var keys: [APIKey] = []
        for try await row in rows.decode(Row.self) { keys.append(try Self.key(row)) }
        return keys
    }

    package func get(_ id: APIKeyID, scope: Principal.Scope) async throws -> APIKey {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE k.msp_id = \(scope.mspID.rawValue) AND k.id = \(id.rawValue)
              AND k.tenant_id IS NOT DISTINCT FROM \(scope.tenantID?.rawValue)::uuid
            """
        )
        for try await row in rows.decode(Row.self) { return try Self.key(row) }
        throw StoreError.notFound
    }

    /// Revokes a key at once; revoking a revoked key changes nothing and returns it as it is.
    package func revoke(_ id: APIKeyID, scope: Principal.Scope, at now: Date) async throws -> APIKey {
        try await tx.query(
            """
            UPDATE api_keys SET revoked_at = \(now)
            WHERE msp_id = \(scope.mspID.rawValue) AND id = \(id.rawValue)
              AND tenant_id IS NOT DISTINCT FROM \(scope.tenantID?.rawValue)::uuid AND revoked_at IS NULL
            """
        )
        return try await get(id, scope: scope)
    }
}
