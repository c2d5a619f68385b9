public import CharterBundle
public import Foundation

/// An endpoint event for the tenant's audit log (`POST /v1/agent/audit`): what the agent allowed, logged,
/// denied or refused.
public struct AuditEvent: Sendable, Hashable, Codable {
    /// The application an event concerns, in the members the reference agent sends (the service takes any
    /// JSON object of at most 8 KiB).
    public struct Application: Sendable, Hashable {
        /// The file name.
        public var fileName: String?
        /// The full path.
        public var path: String?
        /// The SHA-256 of the file, hexadecimal.
        public var sha256: String?

        /// Creates an application description.
        ///
        /// - Parameters:
        ///   - fileName: The file name.
        ///   - path: The path.
        ///   - sha256: The SHA-256.
        public init(fileName: String? = nil, path: String? = nil, sha256: String? = nil) {
            self.fileName = fileName
            self.path = path
            self.sha256 = sha256
        }

        /// The JSON object sent: `file_name`, `path` and `sha256` when set.
        public var jsonValue: JSONValue {
            var members: [String: JSONValue] = [:]
            if let fileName { members["file_name"] = .string(fileName) }
            if let path { members["path"] = .string(path) }
            if let sha256 { members["sha256"] = .string(sha256) }
            return .object(members)
        }
    }

    /// The event id; a retried upload carries the same ids and counts them as duplicates.
    public var id: UUID
    /// Dotted lower-case words such as `run_as_admin.audit_only`.
    public var type: String
    /// When it happened on the device.
    public var occurredAt: Date
    /// The user concerned.
    public var user: CheckinUser?
    /// The application concerned: a JSON object.
    public var application: JSONValue?
    /// Further details: a JSON object.
    public var details: JSONValue?

    /// Creates an event.
    ///
    /// - Parameters:
    ///   - id: The event id (a new one by default).
    ///   - type: The event type.
    ///   - occurredAt: When it happened.
    ///   - user: The user.
    ///   - application: The application.
    ///   - details: Further details.
    public init(
        id: UUID = UUID(), type: String, occurredAt: Date, user: CheckinUser? = nil, application: Application? = nil,
        details: [String: JSONValue]? = nil
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.user = user
        self.application = application?.jsonValue
        self.details = details.map(JSONValue.object)
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, type
        case occurredAt = "occurred_at"
        case user, application, details
    }

    /// Decodes the event, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(UUID.self, forKey: .id)
        type = try container.decode(String.self, forKey: .type)
        occurredAt = try container.decode(Date.self, forKey: .occurredAt)
        user = try container.decodeIfPresent(CheckinUser.self, forKey: .user)
        application = try container.decodeIfPresent(JSONValue.self, forKey: .application)
        details = try container.decodeIfPresent(JSONValue.self, forKey: .details)
    }
}

/// The body of `POST /v1/agent/audit`; the service refuses members it does not know.
public struct AuditUpload: Sendable, Hashable, Codable {
    /// 1 to 500 events.
    public var events: [AuditEvent]

    /// Creates an upload.
    ///
    /// - Parameter events: The events.
    public init(events: [AuditEvent]) {
        self.events = events
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case events
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        events = try decoder.container(keyedBy: CodingKeys.self).decode([AuditEvent].self, forKey: .events)
    }
}

/// The answer to `POST /v1/agent/audit`.
public struct AuditResult: Sendable, Hashable, Codable {
    /// Events appended to the audit log.
    public var accepted: Int
    /// Events with ids uploaded before.
    public var duplicates: Int

    /// Creates an upload answer.
    ///
    /// - Parameters:
    ///   - accepted: Events appended.
    ///   - duplicates: Events uploaded before.
    public init(accepted: Int, duplicates: Int) {
        self.accepted = accepted
        self.duplicates = duplicates
    }
}
