/// An authenticated caller of the admin API: an API key, holding one grant, or a person signed in through the
/// MSP's identity provider, holding the grants worked out at authentication.
package struct Principal: Hashable, Sendable {
    /// Where a grant's role applies.
    package enum Scope: Hashable, Sendable {
        /// Every tenant of the MSP, and the MSP itself.
        case msp(MSPID)
        /// One tenant of the MSP.
        case tenant(MSPID, TenantID)

        package var mspID: MSPID {
            switch self {
            case .msp(let msp), .tenant(let msp, _): msp
            }
        }

        package var tenantID: TenantID? {
            switch self {
            case .msp: nil
            case .tenant(_, let tenant): tenant
            }
        }
    }

    /// Who a person is, as their identity provider named them at their last sign-in.
    package struct Person: Hashable, Sendable {
        package var id: PersonID
        /// The provider's issuer identifier (`iss`).
        package var issuer: String
        /// The provider's stable identifier of the person (`sub`).
        package var subject: String
        package var email: String?
        /// The session or personal token this request was authenticated with.
        package var sessionID: SessionID?
        package var sessionKind: Session.Kind?

        package init(
            id: PersonID, issuer: String, subject: String, email: String?, sessionID: SessionID? = nil,
            sessionKind: Session.Kind? = nil
        ) {
            self.id = id
            self.issuer = issuer
            self.subject = subject
            self.email = email
            self.sessionID = sessionID
            self.sessionKind = sessionKind
        }
    }

    /// The API key's principal id, or the person's id.
    package var id: PrincipalID
    package var name: String
    /// The MSP the principal belongs to; every grant lies in it.
    package var mspID: MSPID
    /// What the principal may do where; never empty for an authenticated principal.
    package var grants: [Grant]
    /// The person, when the principal is one; `nil` for an API key.
    package var person: Person?

    /// An API key's principal: one role over one scope.
    package init(id: PrincipalID, name: String, role: Role, scope: Scope) {
        self.id = id
        self.name = name
        self.mspID = scope.mspID
        self.grants = [Grant(role: role, scope: scope)]
        self.person = nil
    }

    /// A person's principal, with the grants in `msp` worked out for this request; grants of another MSP are
    /// dropped.
    package init(person: Person, name: String, msp: MSPID, grants: [Grant]) {
        self.id = PrincipalID(person.id.rawValue)
        self.name = name
        self.mspID = msp
        self.grants = grants.filter { $0.scope.mspID == msp }
        self.person = person
    }

    /// The one tenant all of the principal's grants lie on (a tenant-scoped API key); `nil` when any grant is
    /// MSP-wide or the grants span several tenants.
    package var soleTenant: TenantID? {
        let tenants = Set(grants.map(\.scope.tenantID))
        guard tenants.count == 1, let only = tenants.first else { return nil }
        return only
    }

    /// The weakest role of all the principal's grants: an API key's one role.
    package var weakestRole: Role {
        grants.map(\.role).min() ?? .auditor
    }
}
