extension Principal {
    /// The tenants of `msp` this principal may read, for views across tenants such as the MSP overview: `nil`
    /// for all of them (it holds an MSP-wide grant there), else the tenants its tenant grants name (a tenant API
    /// key: its one tenant; none for a principal of another MSP).
    ///
    /// Reading needs the weakest role, so every grant counts, whatever its role.
    package func readableTenants(of msp: MSPID) -> Set<TenantID>? {
        if mspWideRole(of: msp) != nil { return nil }
        var tenants: Set<TenantID> = []
        for grant in grants {
            if case .tenant(let grantMSP, let tenant) = grant.scope, grantMSP == msp { tenants.insert(tenant) }
        }
        return tenants
    }
}
