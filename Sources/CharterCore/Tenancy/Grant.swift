/// A role on the MSP as a whole or on one of its tenants: what an API key holds (one) and what a person holds
/// (any number, from role mappings and direct grants; docs/identity.md, "How roles are worked out").
package struct Grant: Hashable, Sendable {
    package var role: Role
    package var scope: Principal.Scope

    package init(role: Role, scope: Principal.Scope) {
        self.role = role
        self.scope = scope
    }

    /// Whether this grant applies to `tenant` of `msp`: an MSP-wide grant covers every tenant of its MSP.
    package func covers(tenant: TenantID, of msp: MSPID) -> Bool {
        switch scope {
        case .msp(let own): own == msp
        case .tenant(let ownMSP, let own): ownMSP == msp && own == tenant
        }
    }
}
