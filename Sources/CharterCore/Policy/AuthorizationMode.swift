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
}
