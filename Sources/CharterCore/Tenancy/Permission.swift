/// The actions of the admin API that need more than reading.
package enum Permission: Hashable, Sendable {
    /// Read anything in scope.
    case read
    /// Create, rename or delete tenants of an MSP.
    case manageTenants
    /// Create or revoke API keys.
    case manageAPIKeys
    /// Read and manage people, their grants, role mappings and sessions (MSP owners).
    case managePeople
    /// Change a tenant's configuration: directory, policy, devices.
    case configure
    /// Approve or deny requests, answer PIN challenges.
    case approve

    /// The least powerful role that holds this permission.
    package var minimumRole: Role {
        switch self {
        case .read: .auditor
        case .approve: .approver
        case .configure: .admin
        case .manageTenants, .manageAPIKeys, .managePeople: .owner
        }
    }
}

/// Why a principal may not do something.
package enum AccessDenial: Error, Hashable, Sendable {
    /// The target lies outside the principal's scope; answered as "not found" so ids don't leak.
    case outOfScope
    /// The target is in scope but the role is too weak.
    case insufficientRole(required: Role)
    /// The action is only possible for a principal scoped to the whole MSP.
    case requiresMSPScope
    /// An API key may only be created with a role and scope no broader than its creator's.
    case cannotGrantBroader
}

extension Principal {
    /// The role this principal holds on `tenant` of `msp`: the weakest of the grants that cover it (least
    /// privilege wins); `nil` when none does.
    package func role(onTenant tenant: TenantID, of msp: MSPID) -> Role? {
        grants.filter { $0.covers(tenant: tenant, of: msp) }.map(\.role).min()
    }

    /// The role this principal holds on `msp` itself: the weakest of its MSP-wide grants; `nil` without one.
    package func mspWideRole(of msp: MSPID) -> Role? {
        grants.filter { $0.scope == .msp(msp) }.map(\.role).min()
    }

    /// The tenants of `msp` this principal may read, as ``authorize(_:tenant:of:)`` decides for `.read`: `nil`
    /// for every tenant of the MSP (an MSP-wide grant), else the tenants its grants name (empty in another MSP).
    ///
    /// Every role reads, so any grant covering a tenant lets the principal read it: an MSP-wide grant covers them
    /// all, whatever weaker tenant grants the principal also holds.
    package func readableTenants(in msp: MSPID) -> Set<TenantID>? {
        if mspWideRole(of: msp) != nil { return nil }
        return Set(grants.compactMap { $0.scope.mspID == msp ? $0.scope.tenantID : nil })
    }

    /// Decides whether this principal may act on a tenant.
    ///
    /// - Parameters:
    ///   - permission: What the principal wants to do.
    ///   - tenant: The tenant, and the MSP that owns it.
    /// - Throws: ``AccessDenial``.
    package func authorize(_ permission: Permission, tenant: TenantID, of msp: MSPID) throws(AccessDenial) {
        guard let role = role(onTenant: tenant, of: msp) else { throw .outOfScope }
        guard role >= permission.minimumRole else { throw .insufficientRole(required: permission.minimumRole) }
    }

    /// Decides whether this principal may act on an MSP as a whole (its tenant list, its MSP-wide keys).
    ///
    /// Only MSP-wide grants count. A principal with tenant grants only can see that its MSP exists (where
    /// `allowTenantScope` says so), with the weakest of those grants, but nothing MSP-wide beyond reading it.
    package func authorizeMSP(_ permission: Permission, msp: MSPID, allowTenantScope: Bool = false) throws(AccessDenial) {
        let inMSP = grants.filter { $0.scope.mspID == msp }
        guard let weakest = inMSP.map(\.role).min() else { throw .outOfScope }
        let role: Role
        if let mspWide = mspWideRole(of: msp) {
            role = mspWide
        } else {
            guard allowTenantScope else { throw .requiresMSPScope }
            role = weakest
        }
        guard role >= permission.minimumRole else { throw .insufficientRole(required: permission.minimumRole) }
    }

    /// Decides whether this principal may create a key (or give a grant) with the given role and scope: no
    /// broader than the role it holds there itself.
    package func authorizeGrant(role granted: Role, scope grantedScope: Principal.Scope) throws(AccessDenial) {
        let held =
            switch grantedScope {
            case .msp(let msp): mspWideRole(of: msp)
            case .tenant(let msp, let tenant): role(onTenant: tenant, of: msp)
            }
        guard let held, granted <= held else { throw .cannotGrantBroader }
    }
}
