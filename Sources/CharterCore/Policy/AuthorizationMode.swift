/// How requests of one kind are authorised when no pre-approved application covers them.
package enum AuthorizationMode: String, Hashable, Sendable, CaseIterable {
    /// Denied; the offline PIN may override when the section allows it.
    case disabled
    /// Allowed and written to the audit log.
    case auditOnly = "audit_only"
    /// Allowed when the user gives a non-empty reason, which is logged.
    case reasonRequired = "reason_required"
    /// Pending until an approver approves or denies it, or it expires.
    case approvalRequired = "approval_required"
    /// A non-empty reason is required first; then as ``approvalRequired``.
    case reasonAndApprovalRequired = "reason_and_approval_required"

    /// Whether an approver (or an approval that still covers the request) must allow it.
    package var needsApproval: Bool {
        self == .approvalRequired || self == .reasonAndApprovalRequired
    }

    /// Whether a request without a reason is refused before anything else is decided.
    package var needsReason: Bool {
        self == .reasonRequired || self == .reasonAndApprovalRequired
    }

    /// The mode as bundle format 1 carries it: one of the four modes every agent knows.
    ///
    /// `reason_and_approval_required` travels as `approval_required`: offline, an agent handles both alike
    /// (an approval is needed, so it offers the PIN challenge), and online the service asks for the reason
    /// (a `422` with `field` `/reason`, which agents already answer by asking the user).
    package var bundleFormat1: AuthorizationMode {
        self == .reasonAndApprovalRequired ? .approvalRequired : self
    }
}
