/// A user logged on to the device, as reported at check-in (at least one member set).
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
}

/// The answer to `POST /v1/agent/checkin`.
public struct CheckinResult: Sendable, Hashable, Decodable {
    /// The device id.
    public var deviceID: String
    /// The version of the device's current bundle (`nil` before the service made one); fetch when
    /// it is higher than the one held.
    public var bundleVersion: Int64?
    /// How long to wait before the next check-in, in seconds.
    public var checkinSeconds: Int

    private enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case bundleVersion = "bundle_version"
        case checkinSeconds = "checkin_seconds"
    }
}
