package import Foundation

/// An approver's approval of one application that also covers later requests for it, by anyone in a scope,
/// until it expires (`POST …/requests/{id}/approve` with a `scope` and `duration_minutes`).
///
/// The application is identified as the re-run cover of `approval.approval_validity_minutes` identifies it:
/// by SHA-256 when the approved request had one, else by path (compared ignoring case), and then only requests
/// without a SHA-256 match. Scopes wider than one user on one computer require a SHA-256: a path names a file on
/// one computer only.
package struct StandingApproval: Hashable, Sendable {
    /// Who a standing approval covers.
    package enum Scope: Hashable, Sendable {
        /// The approved request's directory user, on the approved request's device.
        case userOnComputer(user: ObjectGUID, device: DeviceID)
        /// Every directory user who is a transitive member of the group when a request arrives.
        case group(ObjectGUID)
        /// Every user of the tenant, known to the directory or not.
        case tenant

        /// The scope's name in the API and the store.
        package var kind: Kind {
            switch self {
            case .userOnComputer: .userOnComputer
            case .group: .group
            case .tenant: .tenant
            }
        }

        /// The scope names of the API (`request` is an approval of the one request, no standing approval).
        package enum Kind: String, Hashable, Sendable, CaseIterable {
            case request
            case userOnComputer = "user_on_computer"
            case group
            case tenant
        }
    }

    /// The longest a standing approval may last, in minutes (30 days).
    package static let durationBounds = 1...43_200

    package var id: UUID
    /// The approved request, whose application this covers.
    package var requestID: UUID
    package var kind: ElevationKind
    package var scope: Scope
    /// The approved application's SHA-256, lowercase; `nil` when it had none (then ``path`` identifies it).
    package var sha256: String?
    /// The approved application's path, when it had no SHA-256.
    package var path: String?
    package var approvedAt: Date
    package var expiresAt: Date
    /// The approver's name as the audit log records it.
    package var approvedBy: String

    package init(
        id: UUID, requestID: UUID, kind: ElevationKind, scope: Scope, sha256: String?, path: String?,
        approvedAt: Date, expiresAt: Date, approvedBy: String
    ) {
        self.id = id
        self.requestID = requestID
        self.kind = kind
        self.scope = scope
        self.sha256 = sha256
        self.path = path
        self.approvedAt = approvedAt
        self.expiresAt = expiresAt
        self.approvedBy = approvedBy
    }

    /// Whether `now` lies within the approval's lifetime, `approvedAt` included and `expiresAt` excluded.
    package func isActive(at now: Date) -> Bool {
        approvedAt <= now && now < expiresAt
    }

    /// Whether this approval covers `request`, made on `device` by a user who is a transitive member of
    /// `groups`, at `now`.
    ///
    /// The kinds must be equal, the request must name the same application (see the type's discussion), the
    /// approval must be active, and the request's user must be in the scope: the same directory user on the same
    /// device, a member of the group, or anyone for the tenant. A user the directory does not know is in the
    /// tenant scope only.
    package func covers(_ request: ElevationRequest, on device: DeviceID, groups: Set<ObjectGUID>, at now: Date) -> Bool
    {
        guard request.kind == kind, let application = request.application, isActive(at: now) else { return false }
        if let sha256 {
            guard application.sha256.flatMap({ HexDigest.normalized($0, lengths: [64]) }) == sha256 else {
                return false
            }
        } else {
            // As the re-run cover: a path identifies only requests without a SHA-256.
            guard application.sha256 == nil, let path, let given = application.path,
                path.lowercased() == given.lowercased()
            else { return false }
        }
        switch scope {
        case .userOnComputer(let user, let approvedDevice):
            return request.user == user && device == approvedDevice
        case .group(let group):
            return request.user != nil && groups.contains(group)
        case .tenant:
            return true
        }
    }
}
