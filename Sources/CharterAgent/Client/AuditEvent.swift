public import CharterBundle
public import Foundation

/// An endpoint-side audit event for `POST /v1/agent/audit`.
///
/// Generate ``id`` once per event and keep it until the service has accepted the event: sending
/// the same id again is harmless.
public struct AuditEvent: Sendable, Hashable, Encodable {
    /// The user the event is about.
    public struct User: Sendable, Hashable, Encodable {
        /// The SID.
        public var sid: String?
        /// The objectGUID.
        public var guid: String?
        /// The UPN.
        public var upn: String?

        /// Creates a user reference.
        ///
        /// - Parameters:
        ///   - sid: The SID.
        ///   - guid: The objectGUID.
        ///   - upn: The UPN.
        public init(sid: String? = nil, guid: String? = nil, upn: String? = nil) {
            self.sid = sid
            self.guid = guid
            self.upn = upn
        }
    }

    /// The application the event is about.
    public struct Application: Sendable, Hashable, Encodable {
        /// The file name.
        public var fileName: String?
        /// The full path.
        public var path: String?
        /// The file's SHA-256, hex.
        public var sha256: String?

        /// Creates an application reference.
        ///
        /// - Parameters:
        ///   - fileName: The file name.
        ///   - path: The full path.
        ///   - sha256: The SHA-256, hex.
        public init(fileName: String? = nil, path: String? = nil, sha256: String? = nil) {
            self.fileName = fileName
            self.path = path
            self.sha256 = sha256
        }

        private enum CodingKeys: String, CodingKey {
            case fileName = "file_name"
            case path
            case sha256
        }
    }

    /// The idempotency id.
    public var id: UUID
    /// The type, such as `bundle.rejected` (`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`, at most 64 characters).
    public var type: String
    /// When it happened on the device.
    public var occurredAt: Date
    /// The user, if any.
    public var user: User?
    /// The application, if any.
    public var application: Application?
    /// More facts (at most 8 KiB encoded), if any.
    public var details: [String: JSONValue]?

    /// Creates an audit event.
    ///
    /// - Parameters:
    ///   - id: The idempotency id; a new one by default.
    ///   - type: The event type.
    ///   - occurredAt: When it happened.
    ///   - user: The user.
    ///   - application: The application.
    ///   - details: More facts.
    public init(
        id: UUID = UUID(),
        type: String,
        occurredAt: Date,
        user: User? = nil,
        application: Application? = nil,
        details: [String: JSONValue]? = nil
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.user = user
        self.application = application
        self.details = details
    }

    /// A `bundle.rejected` event carrying the failure code and its explanation.
    ///
    /// - Parameters:
    ///   - error: Why the bundle was refused.
    ///   - date: When it was refused.
    /// - Returns: The event.
    public static func bundleRejected(_ error: BundleError, at date: Date) -> AuditEvent {
        AuditEvent(
            type: "bundle.rejected",
            occurredAt: date,
            details: ["code": .string(error.code), "detail": .string(error.description)]
        )
    }

    private enum CodingKeys: String, CodingKey {
        case id
        case type
        case occurredAt = "occurred_at"
        case user
        case application
        case details
    }
}

/// The answer to `POST /v1/agent/audit`.
public struct AuditResult: Sendable, Hashable, Decodable {
    /// How many events were new.
    public var accepted: Int
    /// How many had been accepted before (same id).
    public var duplicates: Int
}
