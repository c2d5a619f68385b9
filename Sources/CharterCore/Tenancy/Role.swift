/// What a principal may do, from most to least powerful.
///
/// - `owner`: everything, including API keys and (at MSP scope) tenants.
/// - `admin`: configuration of tenants (directory, policy, devices), approvals.
/// - `approver`: approves or denies requests; reads.
/// - `auditor`: reads only.
package enum Role: String, CaseIterable, Hashable, Sendable, Codable, Comparable {
    case owner
    case admin
    case approver
    case auditor

    private var rank: Int {
        switch self {
        case .owner: 3
        case .admin: 2
        case .approver: 1
        case .auditor: 0
        }
    }

    package static func < (lhs: Role, rhs: Role) -> Bool { lhs.rank < rhs.rank }
}
