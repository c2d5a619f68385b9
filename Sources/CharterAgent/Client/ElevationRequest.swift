public import Foundation

/// A user's request to run a program as administrator or for an administrator session, for
/// `POST /v1/agent/requests` (docs/agent-protocol.md, "Requests").
public struct ElevationRequest: Sendable, Hashable, Encodable {
    /// What the user asks for.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// Run one application elevated; the request names it.
        case runAsAdmin = "run_as_admin"
        /// A time-limited administrator session.
        case adminSession = "admin_session"
    }

    /// Where a request stands.
    public enum Status: String, Sendable, Hashable, Decodable {
        /// Allowed at arrival.
        case allowed
        /// Waiting for an approver (or for `expires_at`).
        case pending
        /// An approver allowed it.
        case approved
        /// Denied, at arrival or by an approver.
        case denied
        /// Nobody decided in time.
        case expired
    }

    /// The application to run elevated.
    public struct Application: Sendable, Hashable, Encodable {
        /// The file name (at most 260 characters).
        public var fileName: String
        /// The absolute Windows path.
        public var path: String?
        /// The file's SHA-256, 64 hexadecimal digits.
        public var sha256: String?
        /// The subject of the signing certificate.
        public var signerSubject: String?
        /// The signing certificate's thumbprint, hex (spaces and colons allowed).
        public var certificateThumbprint: String?
        /// The vendor.
        public var vendor: String?

        /// Creates an application reference.
        ///
        /// - Parameters:
        ///   - fileName: The file name.
        ///   - path: The absolute path.
        ///   - sha256: The SHA-256, hex.
        ///   - signerSubject: The signer's subject.
        ///   - certificateThumbprint: The certificate thumbprint.
        ///   - vendor: The vendor.
        public init(
            fileName: String,
            path: String? = nil,
            sha256: String? = nil,
            signerSubject: String? = nil,
            certificateThumbprint: String? = nil,
            vendor: String? = nil
        ) {
            self.fileName = fileName
            self.path = path
            self.sha256 = sha256
            self.signerSubject = signerSubject
            self.certificateThumbprint = certificateThumbprint
            self.vendor = vendor
        }

        private enum CodingKeys: String, CodingKey {
            case fileName = "file_name"
            case path
            case sha256
            case signerSubject = "signer_subject"
            case certificateThumbprint = "certificate_thumbprint"
            case vendor
        }
    }

    /// A request and its decision, as the service answers a submission or a read.
    public struct Answer: Sendable, Hashable, Decodable {
        /// The request id, to match `decision` events and to read the request again.
        public var id: String
        /// The kind.
        public var kind: Kind
        /// Where the request stands.
        public var status: Status
        /// Whether the decision went to the audit log.
        public var logged: Bool
        /// Whether the offline PIN may override a denial.
        public var pinOverride: Bool
        /// Why, such as `mode approval_required`.
        public var explanation: String
        /// The policy that decided: `global` or the subsetting's name.
        public var policy: String
        /// For an allowed admin session, its length.
        public var sessionMinutes: Int?
        /// For a pending request, when it expires.
        public var expiresAt: Date?
        /// When it was decided.
        public var decidedAt: Date?
        /// The approver's comment.
        public var comment: String?

        private enum CodingKeys: String, CodingKey {
            case id, kind, status, logged, explanation, policy, comment
            case pinOverride = "pin_override"
            case sessionMinutes = "session_minutes"
            case expiresAt = "expires_at"
            case decidedAt = "decided_at"
        }
    }

    /// What the user asks for.
    public var kind: Kind
    /// The user, as in check-ins.
    public var user: CheckinUser
    /// The application; required for ``Kind/runAsAdmin``.
    public var application: Application?
    /// Why the user asks (at most 2000 characters); required when the policy says `reason_required`.
    public var reason: String?

    /// Creates a request.
    ///
    /// - Parameters:
    ///   - kind: What the user asks for.
    ///   - user: The user.
    ///   - application: The application.
    ///   - reason: The user's reason.
    public init(kind: Kind, user: CheckinUser, application: Application? = nil, reason: String? = nil) {
        self.kind = kind
        self.user = user
        self.application = application
        self.reason = reason
    }
}
