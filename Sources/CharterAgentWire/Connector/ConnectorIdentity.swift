public import CharterBundle
public import Foundation

/// The connector protocol's constants (docs/connector-protocol.md, "Versions").
public enum ConnectorProtocol {
    /// The version this build speaks.
    public static let version = 1
    /// The header every connector request carries its protocol version in.
    public static let header = "Charter-Connector-Protocol"

    /// The message a connector signs to renew its token.
    public static func tokenMessage(nonce: String, connectorID: String) -> String {
        "charter-connector-token-v1\n\(nonce)\n\(connectorID)"
    }

    /// The message the current key of a connector signs to re-enroll it with `newKeyThumbprint` (RFC 7638).
    public static func reenrollmentMessage(nonce: String, connectorID: String, newKeyThumbprint: String) -> String {
        "charter-connector-reenroll-v1\n\(nonce)\n\(connectorID)\n\(newKeyThumbprint)"
    }
}

/// The protocol versions the service speaks.
public struct ConnectorProtocolRange: Sendable, Hashable, Codable {
    public var minimum: Int
    public var maximum: Int

    public init(minimum: Int, maximum: Int) {
        self.minimum = minimum
        self.maximum = maximum
    }
}

/// A signature by a connector's current key over a fresh challenge (re-enrollment, token renewal).
public struct ConnectorSignedChallenge: Sendable, Hashable, Codable {
    public var connectorID: String
    public var nonce: String
    /// Unpadded base64url of the 64-byte Ed25519 signature.
    public var signature: String

    public init(connectorID: String, nonce: String, signature: String) {
        self.connectorID = connectorID
        self.nonce = nonce
        self.signature = signature
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case connectorID = "connector_id"
        case nonce
        case signature
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        connectorID = try container.decode(String.self, forKey: .connectorID)
        nonce = try container.decode(String.self, forKey: .nonce)
        signature = try container.decode(String.self, forKey: .signature)
    }
}

/// The body of `POST /v1/connector/enroll`.
public struct ConnectorEnrollRequest: Sendable, Hashable, Codable {
    /// The enrollment token (`chte_…`, purpose `connector`).
    public var enrollmentToken: String
    public var name: String
    public var hostname: String
    public var version: String
    /// The public Ed25519 JWK of the connector.
    public var signingKey: JSONValue
    /// Proof by the current key of the connector to re-enroll.
    public var proof: ConnectorSignedChallenge?

    public init(
        enrollmentToken: String, name: String, hostname: String, version: String, signingKey: JSONValue,
        proof: ConnectorSignedChallenge? = nil
    ) {
        self.enrollmentToken = enrollmentToken
        self.name = name
        self.hostname = hostname
        self.version = version
        self.signingKey = signingKey
        self.proof = proof
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enrollmentToken = "enrollment_token"
        case name
        case hostname
        case version
        case signingKey = "signing_key"
        case proof
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enrollmentToken = try container.decode(String.self, forKey: .enrollmentToken)
        name = try container.decode(String.self, forKey: .name)
        hostname = try container.decode(String.self, forKey: .hostname)
        version = try container.decode(String.self, forKey: .version)
        signingKey = try container.decode(JSONValue.self, forKey: .signingKey)
        proof = try container.decodeIfPresent(ConnectorSignedChallenge.self, forKey: .proof)
    }
}

/// The answer to `POST /v1/connector/enroll`.
///
/// > Warning: It holds the connector token; never log it.
public struct ConnectorEnrollment: Sendable, Hashable, Codable {
    public var connectorID: String
    /// The connector token (`chtk_…`).
    public var connectorToken: String
    public var tokenExpiresAt: Date
    public var tenantID: String
    public var `protocol`: ConnectorProtocolRange
    public var heartbeatSeconds: Int

    public init(
        connectorID: String, connectorToken: String, tokenExpiresAt: Date, tenantID: String,
        protocol: ConnectorProtocolRange, heartbeatSeconds: Int
    ) {
        self.connectorID = connectorID
        self.connectorToken = connectorToken
        self.tokenExpiresAt = tokenExpiresAt
        self.tenantID = tenantID
        self.protocol = `protocol`
        self.heartbeatSeconds = heartbeatSeconds
    }

    enum CodingKeys: String, CodingKey {
        case connectorID = "connector_id"
        case connectorToken = "connector_token"
        case tokenExpiresAt = "token_expires_at"
        case tenantID = "tenant_id"
        case `protocol`
        case heartbeatSeconds = "heartbeat_seconds"
    }
}

/// A new connector token from `POST /v1/connector/token`.
///
/// > Warning: It holds the connector token; never log it.
public struct ConnectorTokenRenewal: Sendable, Hashable, Codable {
    public var connectorToken: String
    public var tokenExpiresAt: Date

    public init(connectorToken: String, tokenExpiresAt: Date) {
        self.connectorToken = connectorToken
        self.tokenExpiresAt = tokenExpiresAt
    }

    enum CodingKeys: String, CodingKey {
        case connectorToken = "connector_token"
        case tokenExpiresAt = "token_expires_at"
    }
}
