package import CharterCore
import CharterJSON
package import CharterStore

/// What the request service refuses: a submission the policy needs a reason for, a decision on a request that
/// is no longer pending, another device's request, approval options that do not fit the request.
package enum RequestError: RefusalConvertible, Equatable {
    /// The policy for this user and computer requires a reason and none was given.
    case reasonRequired
    /// An approver's comment is longer than ``RequestService/maximumCommentLength``.
    case commentTooLong
    /// The request was decided, or expired, before this decision.
    case alreadyDecided(StoredRequest.Status)
    /// A device asked for a request that is not its own (it looks like a missing one).
    case notRequestOfDevice
    /// A scope other than `request` without `duration_minutes`.
    case durationRequired
    /// `duration_minutes` with the `request` scope, which lasts no longer than the request.
    case durationWithoutScope
    /// `duration_minutes` outside ``StandingApproval/durationBounds``.
    case durationOutOfRange
    /// The `group` scope without `group`.
    case groupRequired
    /// `group` with a scope other than `group`.
    case groupWithoutGroupScope
    /// The requesting user is not a transitive member of the group (or not a directory user at all).
    case notInGroup(ObjectGUID)
    /// A standing approval needs an application to identify (an admin session without one has none).
    case scopeNeedsApplication
    /// `user_on_computer` needs the request's user to be a user of the tenant's directory.
    case scopeNeedsDirectoryUser
    /// The application has no SHA-256 (`group`, `tenant`), or neither a SHA-256 nor a path (`user_on_computer`).
    case scopeNeedsSHA256
    /// A pre-approval needs the request's application.
    case preApprovalNeedsApplication
    /// The pre-approved entry is invalid, as it would be in a settings document (pointers into the body).
    case invalidPreApproval(DocumentError)
    /// The list already has the most entries a list may have; `field` is the body member.
    case preApprovedListFull(field: String)
    /// `add_to_pre_approved.subsetting` names no subsetting of the tenant.
    case unknownSubsetting(SubsettingID)
    /// The pre-approval names a baseline that is not assigned to the request's tenant (or not the MSP's at all).
    case unassignedBaseline(BaselineID)

    package var refusal: Refusal {
        switch self {
        case .reasonRequired:
            Refusal(
                .invalid,
                "The policy for this user and computer requires a reason; ask the user for one and send the request again.",
                field: "/reason"
            )
        case .commentTooLong:
            Refusal(
                .invalid, "comment may have at most \(RequestService.maximumCommentLength) characters.", field: "/comment"
            )
        case .alreadyDecided(let status):
            Refusal(
                .conflict,
                "The request is \(status == .pending ? "expired" : status.rawValue) already; it cannot be decided again."
            )
        case .notRequestOfDevice:
            Refusal(.notFound, "No such request of this device.")
        case .durationRequired:
            Refusal(
                .invalid, "duration_minutes is required with a scope other than request.", field: "/duration_minutes"
            )
        case .durationWithoutScope:
            Refusal(
                .invalid,
                "duration_minutes applies only to a scope other than request (user_on_computer, group, tenant).",
                field: "/duration_minutes"
            )
        case .durationOutOfRange:
            Refusal(
                .invalid,
                "duration_minutes must be between \(StandingApproval.durationBounds.lowerBound) and "
                    + "\(StandingApproval.durationBounds.upperBound) (30 days).",
                field: "/duration_minutes"
            )
        case .groupRequired:
            Refusal(.invalid, "The group scope needs group: the objectGUID of a group the user is in.", field: "/group")
        case .groupWithoutGroupScope:
            Refusal(.invalid, "group applies only to the group scope.", field: "/group")
        case .notInGroup(let group):
            Refusal(.invalid, "The requesting user is not a member of group \(group).", field: "/group")
        case .scopeNeedsApplication:
            Refusal(
                .invalid, "The request names no application, so it can only be approved for itself (scope request).",
                field: "/scope"
            )
        case .scopeNeedsDirectoryUser:
            Refusal(
                .invalid,
                "The requesting user is not a user of the tenant's directory; approve for the request or the tenant.",
                field: "/scope"
            )
        case .scopeNeedsSHA256:
            Refusal(
                .invalid,
                "The application has no SHA-256, which identifies it beyond one computer; approve for the request"
                    + " (or, when it has a path, for the user on this computer).",
                field: "/scope"
            )
        case .preApprovalNeedsApplication:
            Refusal(.invalid, "The request names no application to pre-approve.", field: "/add_to_pre_approved")
        case .invalidPreApproval(let error):
            Self.refusal(of: error)
        case .preApprovedListFull(let field):
            Refusal(
                .invalid,
                "The list already has \(Settings.PreApprovedApplication.maximumCount) pre-approved applications.",
                field: field
            )
        case .unknownSubsetting(let id):
            Refusal(.invalid, "The tenant has no subsetting \(id).", field: "/add_to_pre_approved/subsetting")
        case .unassignedBaseline(let id):
            Refusal(
                .invalid, "No baseline \(id) is assigned to the tenant; only an assigned one pre-approves here.",
                field: "/add_to_pre_approved/baseline"
            )
        }
    }

    /// A 422 listing every problem of a refused pre-approved entry, `field` the first one's pointer.
    private static func refusal(of error: DocumentError) -> Refusal {
        let issues = error.issues.map { Refusal.Issue(pointer: $0.pointer.description, detail: $0.message) }
        let first = issues.first
        let more = issues.count > 1 ? " (and \(issues.count - 1) more, listed in errors)" : ""
        return Refusal(
            .invalid,
            "The pre-approved entry is invalid: \(first?.pointer ?? "") "
                + "\(first?.detail ?? "is not acceptable")\(more).",
            field: first?.pointer, issues: issues
        )
    }
}
