package import Foundation

/// A technician of an MSP, known through the MSP's OpenID Connect provider (docs/identity.md).
package struct Person: Hashable, Sendable {
    package var id: PersonID
    package var mspID: MSPID
    /// The provider's issuer identifier (`iss`).
    package var issuer: String
    /// The provider's stable identifier of the person (`sub`); with the issuer, unique in the MSP.
    package var subject: String
    package var email: String?
    package var name: String?
    /// The groups claim at the last sign-in: the role mappings apply to these.
    package var groups: [String]
    package var lastSignInAt: Date?
    package var createdAt: Date

    package init(
        id: PersonID, mspID: MSPID, issuer: String, subject: String, email: String?, name: String?,
        groups: [String], lastSignInAt: Date?, createdAt: Date
    ) {
        self.id = id
        self.mspID = mspID
        self.issuer = issuer
        self.subject = subject
        self.email = email
        self.name = name
        self.groups = groups
        self.lastSignInAt = lastSignInAt
        self.createdAt = createdAt
    }

    /// A display name: the email, else the name, else the subject.
    package var displayName: String {
        email ?? name ?? subject
    }
}

/// A rule of an MSP: people whose groups claim holds `claimValue` get `grant`.
package struct RoleMapping: Hashable, Sendable {
    package var id: RoleMappingID
    package var claimValue: String
    package var grant: Grant
    package var createdAt: Date

    package init(id: RoleMappingID, claimValue: String, grant: Grant, createdAt: Date) {
        self.id = id
        self.claimValue = claimValue
        self.grant = grant
        self.createdAt = createdAt
    }
}

/// A grant an MSP owner gave one person directly.
package struct PersonGrant: Hashable, Sendable {
    package var id: PersonGrantID
    package var personID: PersonID
    package var grant: Grant
    package var createdAt: Date
    /// The principal (API key or person) that gave it.
    package var createdBy: PrincipalID?

    package init(id: PersonGrantID, personID: PersonID, grant: Grant, createdAt: Date, createdBy: PrincipalID?) {
        self.id = id
        self.personID = personID
        self.grant = grant
        self.createdAt = createdAt
        self.createdBy = createdBy
    }
}

/// One of a person's effective grants and where it came from.
package struct EffectiveGrant: Hashable, Sendable {
    package enum Source: Hashable, Sendable {
        /// A role mapping matched one of the person's groups.
        case mapping(RoleMappingID, claimValue: String)
        /// An MSP owner gave it directly.
        case direct(PersonGrantID)
    }

    package var grant: Grant
    package var source: Source

    package init(grant: Grant, source: Source) {
        self.grant = grant
        self.source = source
    }

    /// The effective grants of a person with `groups`: every mapping whose claim value is among them, then every
    /// direct grant.
    package static func workOut(groups: [String], mappings: [RoleMapping], direct: [PersonGrant]) -> [EffectiveGrant] {
        let groups = Set(groups)
        return mappings.filter { groups.contains($0.claimValue) }.map {
            EffectiveGrant(grant: $0.grant, source: .mapping($0.id, claimValue: $0.claimValue))
        } + direct.map { EffectiveGrant(grant: $0.grant, source: .direct($0.id)) }
    }
}
