package import CharterStore

/// What the request service refuses: a submission the policy needs a reason for, a decision on a request that
/// is no longer pending, another device's request.
package enum RequestError: RefusalConvertible, Equatable {
    /// The policy for this user and computer requires a reason and none was given.
    case reasonRequired
    /// An approver's comment is longer than ``RequestService/maximumCommentLength``.
    case commentTooLong
    /// The request was decided, or expired, before this decision.
    case alreadyDecided(StoredRequest.Status)
    /// A device asked for a request that is not its own (it looks like a missing one).
    case notRequestOfDevice

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
        }
    }
}
