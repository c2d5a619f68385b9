public import Foundation

/// A user as an agent names it (check-ins, requests, audit events): at least one of SID, objectGUID and UPN.
public struct CheckinUser: Sendable, Hashable, Codable {
    /// The user's SID.
    public var sid: String?
    /// The user's objectGUID.
    public var guid: String?
    /// The user's UPN.
    public var upn: String?

    /// Creates a user entry.
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

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sid, guid, upn
    }

    /// Decodes the entry, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sid = try container.decodeIfPresent(String.self, forKey: .sid)
        guid = try container.decodeIfPresent(String.self, forKey: .guid)
        upn = try container.decodeIfPresent(String.self, forKey: .upn)
    }
}

/// The body of `POST /v1/agent/checkin`; the service refuses members it does not know.
public struct CheckinRequest: Sendable, Hashable, Codable {
    /// The agent's version.
    public var agentVersion: String
    /// The version of the bundle the device holds; left out before the first bundle.
    public var bundleVersion: Int64?
    /// The users logged on (an absent member reads as none).
    public var users: [CheckinUser]

    /// Creates a check-in body.
    ///
    /// - Parameters:
    ///   - agentVersion: The agent's version.
    ///   - bundleVersion: The version of the bundle held.
    ///   - users: The users logged on.
    public init(agentVersion: String, bundleVersion: Int64?, users: [CheckinUser]) {
        self.agentVersion = agentVersion
        self.bundleVersion = bundleVersion
        self.users = users
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case agentVersion = "agent_version"
        case bundleVersion = "bundle_version"
        case users
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        agentVersion = try container.decode(String.self, forKey: .agentVersion)
        bundleVersion = try container.decodeIfPresent(Int64.self, forKey: .bundleVersion)
        users = try container.decodeIfPresent([CheckinUser].self, forKey: .users) ?? []
    }
}

/// The answer to `POST /v1/agent/checkin`.
public struct CheckinResult: Sendable, Hashable, Codable {
    /// The device id.
    public var deviceID: String
    /// The version of the device's current bundle (`nil` before the service made one, and then left out);
    /// fetch when it is higher than the one held.
    public var bundleVersion: Int64?
    /// How long to wait before the next check-in, in seconds.
    public var checkinSeconds: Int

    /// Creates a check-in answer.
    ///
    /// - Parameters:
    ///   - deviceID: The device id.
    ///   - bundleVersion: The current bundle's version.
    ///   - checkinSeconds: Seconds until the next check-in.
    public init(deviceID: String, bundleVersion: Int64?, checkinSeconds: Int) {
        self.deviceID = deviceID
        self.bundleVersion = bundleVersion
        self.checkinSeconds = checkinSeconds
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case bundleVersion = "bundle_version"
        case checkinSeconds = "checkin_seconds"
    }
}
