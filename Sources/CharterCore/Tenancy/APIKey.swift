package import Foundation

/// The stored, non-secret description of an API key.
package struct APIKey: Hashable, Sendable {
    package var id: APIKeyID
    /// The principal the key authenticates as.
    package var principalID: PrincipalID
    package var name: String
    /// The key's one role over one scope.
    package var grant: Grant
    package var createdAt: Date
    package var createdBy: PrincipalID?
    package var expiresAt: Date?
    package var revokedAt: Date?
    package var lastUsedAt: Date?

    package init(
        id: APIKeyID,
        principalID: PrincipalID,
        name: String,
        grant: Grant,
        createdAt: Date,
        createdBy: PrincipalID?,
        expiresAt: Date?,
        revokedAt: Date?,
        lastUsedAt: Date?
    ) {
        self.id = id
        self.principalID = principalID
        self.name = name
        self.grant = grant
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }
}

extension APIKey {
    /// The principal a request authenticated by this key acts as.
    package var principal: Principal {
        Principal(id: principalID, name: name, role: grant.role, scope: grant.scope)
    }
}
