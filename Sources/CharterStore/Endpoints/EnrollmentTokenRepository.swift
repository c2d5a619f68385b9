package import CharterCore
package import Foundation
import PostgresNIO

/// An enrollment token as stored (its secret only as a hash).
package struct EnrollmentToken: Hashable, Sendable {
    /// What a token enrolls: endpoints (`device`) or on-premises connectors (`connector`).
    package enum Purpose: String, Sendable, Hashable, CaseIterable {
        case device
        case connector
    }

    package var id: EnrollmentTokenID
    package var name: String
    package var expiresAt: Date?
    package var maximumUses: Int?
    package var uses: Int
    package var createdAt: Date
    package var createdBy: UUID?
    package var revokedAt: Date?
    package var lastUsedAt: Date?
    package var purpose: Purpose

    package init(
        id: EnrollmentTokenID, name: String, expiresAt: Date?, maximumUses: Int?, uses: Int = 0, createdAt: Date,
        createdBy: UUID?, revokedAt: Date? = nil, lastUsedAt: Date? = nil, purpose: Purpose = .device
    ) {
        self.id = id
        self.name = name
        self.expiresAt = expiresAt
        self.maximumUses = maximumUses
        self.uses = uses
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.purpose = purpose
    }
}

/// A tenant's enrollment tokens.
package struct EnrollmentTokenRepository: Sendable {
    let tx: Transaction

    /// What enrollment needs to know of a token before any tenant is selected.
    package struct Credential: Sendable {
        package var secretHash: [UInt8]
        package var tenant: TenantID
        package var msp: MSPID
        /// What the token enrolls; enrollment refuses a token of the other purpose as it refuses an unknown one.
        package var purpose: EnrollmentToken.Purpose
    }

    private typealias Row = (UUID, String, Date?, Int?, Int, Date, UUID?, Date?, Date?, String)
    private static let columns = """
        SELECT id, name, expires_at, max_uses, uses, created_at, created_by, revoked_at, last_used_at, purpose
        FROM enrollment_tokens
        """

    private static func token(_ row: Row) -> EnrollmentToken {
        EnrollmentToken(
            id: EnrollmentTokenID(row.0), name: row.1, expiresAt: row.2, maximumUses: row.3, uses: row.4,
            createdAt: row.5, createdBy: row.6, revokedAt: row.7, lastUsedAt: row.8,
            purpose: EnrollmentToken.Purpose(rawValue: row.9) ?? .device
        )
    }

    /// A usable token (not revoked, expired or used up), looked up across tenants.
    package func credential(for id: EnrollmentTokenID) async throws -> Credential? {
        let rows = try await tx.query(
            """
            SELECT secret_hash, tenant_id, msp_id, purpose
            FROM charter_private.enrollment_token_credential(\(id.rawValue))
            """
        )
        for try await (hash, tenant, msp, purpose) in rows.decode((Data, UUID, UUID, String).self) {
            guard let purpose = EnrollmentToken.Purpose(rawValue: purpose) else { return nil }
            return Credential(secretHash: Array(hash), tenant: TenantID(tenant), msp: MSPID(msp), purpose: purpose)
        }
        return nil
    }

    package func create(_ token: EnrollmentToken, in tenant: TenantID, secretHash: [UInt8]) async throws {
        try await tx.query(
            """
            INSERT INTO enrollment_tokens (tenant_id, id, name, secret_hash, expires_at, max_uses, created_at, created_by,
                                           purpose)
            VALUES (\(tenant.rawValue), \(token.id.rawValue), \(token.name), \(Data(secretHash)), \(token.expiresAt),
                    \(token.maximumUses), \(token.createdAt), \(token.createdBy), \(token.purpose.rawValue))
            """
        )
    }

    package func list(_ tenant: TenantID, after cursor: EnrollmentTokenID?, limit: Int) async throws -> [EnrollmentToken] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE tenant_id = \(tenant.rawValue)
              AND (\(cursor?.rawValue)::uuid IS NULL OR id > \(cursor?.rawValue))
            ORDER BY id LIMIT \(limit)
            """
        )
        var tokens: [EnrollmentToken] = []
        for try await row in rows.decode(Row.self) { tokens.append(Self.token(row)) }
        return tokens
    }

    package func get(_ tenant: TenantID, id: EnrollmentTokenID) async throws -> EnrollmentToken {
        let rows = try await tx.query(
            "\(unescaped: Self.columns) WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue)"
        )
        for try await row in rows.decode(Row.self) { return Self.token(row) }
        throw StoreError.notFound
    }

    /// Revokes a token; revoking a revoked token changes nothing.
    package func revoke(_ tenant: TenantID, id: EnrollmentTokenID, at now: Date) async throws -> EnrollmentToken {
        try await tx.query(
            """
            UPDATE enrollment_tokens SET revoked_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
            """
        )
        return try await get(tenant, id: id)
    }

    /// Counts one use, unless the token became unusable meanwhile.
    ///
    /// - Returns: Whether the use was counted.
    package func use(_ tenant: TenantID, id: EnrollmentTokenID, at now: Date) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE enrollment_tokens SET uses = uses + 1, last_used_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > \(now)) AND (max_uses IS NULL OR uses < max_uses)
            RETURNING id
            """
        )
        for try await _ in rows { return true }
        return false
    }
}
