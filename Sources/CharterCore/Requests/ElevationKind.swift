/// What an endpoint user asks for: to run one application as administrator, or an administrator session.
package enum ElevationKind: String, Hashable, Sendable, CaseIterable, Comparable {
    case runAsAdmin = "run_as_admin"
    case adminSession = "admin_session"

    package static func < (lhs: ElevationKind, rhs: ElevationKind) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
