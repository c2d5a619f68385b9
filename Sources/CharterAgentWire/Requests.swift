public import Foundation

/// What a user asks for in a request (`kind`): an open set of names, so that the service reads any string and
/// refuses one it does not know with a problem naming `/kind`, rather than failing to decode the body.
public struct RequestKind: RawRepresentable, Sendable, Hashable, Codable {
    /// Run one application elevated; the request names it.
    public static let runAsAdmin = RequestKind(rawValue: "run_as_admin")
    /// A time-limited administrator session.
    public static let adminSession = RequestKind(rawValue: "admin_session")

    /// The name on the wire.
    public var rawValue: String

    /// A kind by its name on the wire.
    ///
    /// - Parameter rawValue: The name.
    public init(rawValue: String) {
        self.rawValue = rawValue
    }
}

/// The body of `POST /v1/agent/requests` (docs/agent-protocol.md, "Requests"): a user's request to run a
/// program as administrator or for an administrator session. The service refuses members it does not know.
public struct RequestSubmission: Sendable, Hashable, Codable {
    /// The application to run elevated.
    public struct Application: Sendable, Hashable, Codable {
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

        enum CodingKeys: String, CodingKey, CaseIterable {
            case fileName = "file_name"
            case path
            case sha256
            case signerSubject = "signer_subject"
            case certificateThumbprint = "certificate_thumbprint"
            case vendor
        }

        /// Decodes the application, refusing unknown members.
        public init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            fileName = try container.decode(String.self, forKey: .fileName)
            path = try container.decodeIfPresent(String.self, forKey: .path)
            sha256 = try container.decodeIfPresent(String.self, forKey: .sha256)
            signerSubject = try container.decodeIfPresent(String.self, forKey: .signerSubject)
            certificateThumbprint = try container.decodeIfPresent(String.self, forKey: .certificateThumbprint)
            vendor = try container.decodeIfPresent(String.self, forKey: .vendor)
        }
    }

    /// What the user asks for.
    public var kind: RequestKind
    /// The user, as in check-ins.
    public var user: CheckinUser
    /// The application; required for ``RequestKind/runAsAdmin``.
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
    public init(kind: RequestKind, user: CheckinUser, application: Application? = nil, reason: String? = nil) {
        self.kind = kind
        self.user = user
        self.application = application
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case kind, user, application, reason
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        kind = try container.decode(RequestKind.self, forKey: .kind)
        user = try container.decode(CheckinUser.self, forKey: .user)
        application = try container.decodeIfPresent(Application.self, forKey: .application)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
    }
}

/// A request and its decision, as the service answers a submission or a read (`POST /v1/agent/requests`,
/// `GET /v1/agent/requests/{id}`). Members the agent does not know are ignored; absent optional ones are left
/// out.
public struct RequestAnswer: Sendable, Hashable, Codable {
    /// Where a request stands.
    public enum Status: String, Sendable, Hashable, Codable {
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

    /// The request id, to match `decision` events and to read the request again.
    public var id: String
    /// The kind.
    public var kind: RequestKind
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

    /// Creates an answer.
    ///
    /// - Parameters:
    ///   - id: The request id.
    ///   - kind: The kind.
    ///   - status: Where it stands.
    ///   - logged: Whether the decision was logged.
    ///   - pinOverride: Whether the PIN may override a denial.
    ///   - explanation: Why.
    ///   - policy: The deciding policy.
    ///   - sessionMinutes: An admin session's length.
    ///   - expiresAt: When a pending request expires.
    ///   - decidedAt: When it was decided.
    ///   - comment: The approver's comment.
    public init(
        id: String, kind: RequestKind, status: Status, logged: Bool, pinOverride: Bool, explanation: String,
        policy: String, sessionMinutes: Int? = nil, expiresAt: Date? = nil, decidedAt: Date? = nil,
        comment: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.logged = logged
        self.pinOverride = pinOverride
        self.explanation = explanation
        self.policy = policy
        self.sessionMinutes = sessionMinutes
        self.expiresAt = expiresAt
        self.decidedAt = decidedAt
        self.comment = comment
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, status, logged, explanation, policy, comment
        case pinOverride = "pin_override"
        case sessionMinutes = "session_minutes"
        case expiresAt = "expires_at"
        case decidedAt = "decided_at"
    }
}
