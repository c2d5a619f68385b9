/// An authenticated caller of the admin API, bound to one role over one scope.
package struct Principal: Hashable, Sendable {
    /// Where a principal's role applies.
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

    package var id: PrincipalID
    package var name: String
    package var role: Role
    package var scope: Scope

    package init(id: PrincipalID, name: String, role: Role, scope: Scope) {
        self.id = id
        self.name = name
        self.role = role
        self.scope = scope
    }
}
