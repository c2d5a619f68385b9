package import Foundation

/// The stored, non-secret description of an API key.
package struct APIKey: Hashable, Sendable {
    package var id: APIKeyID
    package var principal: Principal
    package var createdAt: Date
    package var createdBy: PrincipalID?
    package var expiresAt: Date?
    package var revokedAt: Date?
    package var lastUsedAt: Date?

    package init(
        id: APIKeyID,
        principal: Principal,
        createdAt: Date,
        createdBy: PrincipalID?,
        expiresAt: Date?,
        revokedAt: Date?,
        lastUsedAt: Date?
    ) {
        self.id = id
        self.principal = principal
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }
}
