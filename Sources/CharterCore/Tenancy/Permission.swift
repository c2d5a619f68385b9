/// The actions of the admin API that need more than reading.
package enum Permission: Hashable, Sendable {
    /// Read anything in scope.
    case read
    /// Create, rename or delete tenants of an MSP.
    case manageTenants
    /// Create or revoke API keys.
    case manageAPIKeys
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
        case .manageTenants, .manageAPIKeys: .owner
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
    /// Decides whether this principal may act on a tenant.
    ///
    /// - Parameters:
    ///   - permission: What the principal wants to do.
    ///   - tenant: The tenant, and the MSP that owns it.
    /// - Throws: ``AccessDenial``.
    package func authorize(_ permission: Permission, tenant: TenantID, of msp: MSPID) throws(AccessDenial) {
        switch scope {
        case .msp(let own) where own == msp: break
        case .tenant(let ownMSP, let own) where ownMSP == msp && own == tenant: break
        default: throw .outOfScope
        }
        guard role >= permission.minimumRole else { throw .insufficientRole(required: permission.minimumRole) }
    }

    /// Decides whether this principal may act on an MSP as a whole (its tenant list, its MSP-wide keys).
    ///
    /// A tenant-scoped principal can see that its MSP exists, but nothing MSP-wide beyond reading it.
    package func authorizeMSP(_ permission: Permission, msp: MSPID, allowTenantScope: Bool = false) throws(AccessDenial) {
        guard scope.mspID == msp else { throw .outOfScope }
        if scope.tenantID != nil && !allowTenantScope { throw .requiresMSPScope }
        guard role >= permission.minimumRole else { throw .insufficientRole(required: permission.minimumRole) }
    }

    /// Decides whether this principal may create a key with the given role and scope.
    package func authorizeGrant(role granted: Role, scope grantedScope: Principal.Scope) throws(AccessDenial) {
        guard granted <= role else { throw .cannotGrantBroader }
        switch (scope, grantedScope) {
        case (.msp(let own), .msp(let target)) where own == target: return
        case (.msp(let own), .tenant(let msp, _)) where own == msp: return
        case (.tenant(let ownMSP, let own), .tenant(let msp, let target)) where ownMSP == msp && own == target: return
        default: throw .cannotGrantBroader
        }
    }
}
