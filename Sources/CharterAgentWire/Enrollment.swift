public import CharterBundle
public import Foundation

/// The body of `POST /v1/agent/enroll` (docs/agent-protocol.md, "Enrollment"); the service refuses members it
/// does not know.
public struct EnrollRequest: Sendable, Hashable, Codable {
    /// The enrollment token (`chte_…`).
    public var enrollmentToken: String
    /// The computer's host name.
    public var hostname: String
    /// The computer's SID, when the agent knows it.
    public var computerSID: String?
    /// The computer's objectGUID, when the agent knows it.
    public var computerGUID: String?
    /// The operating system's name and version.
    public var os: String?
    /// The agent's version.
    public var agentVersion: String
    /// The public X25519 JWK bundles are encrypted to (`kty`, `crv`, `x`, optionally `use`, `kid`, `alg`).
    public var encryptionKey: JSONValue
    /// The public Ed25519 JWK of the device.
    public var signingKey: JSONValue
    /// Proof by the current key of the device to re-enroll (docs/agent-protocol.md, "Re-enrollment").
    public var proof: SignedChallenge?

    /// Creates an enrollment body.
    ///
    /// - Parameters:
    ///   - enrollmentToken: The enrollment token.
    ///   - hostname: The host name.
    ///   - computerSID: The computer's SID.
    ///   - computerGUID: The computer's objectGUID.
    ///   - os: The operating system.
    ///   - agentVersion: The agent's version.
    ///   - encryptionKey: The public X25519 JWK.
    ///   - signingKey: The public Ed25519 JWK.
    ///   - proof: The re-enrollment proof.
    public init(
        enrollmentToken: String, hostname: String, computerSID: String? = nil, computerGUID: String? = nil,
        os: String? = nil, agentVersion: String, encryptionKey: JSONValue, signingKey: JSONValue,
        proof: SignedChallenge? = nil
    ) {
        self.enrollmentToken = enrollmentToken
        self.hostname = hostname
        self.computerSID = computerSID
        self.computerGUID = computerGUID
        self.os = os
        self.agentVersion = agentVersion
        self.encryptionKey = encryptionKey
        self.signingKey = signingKey
        self.proof = proof
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enrollmentToken = "enrollment_token"
        case hostname
        case computerSID = "computer_sid"
        case computerGUID = "computer_guid"
        case os
        case agentVersion = "agent_version"
        case encryptionKey = "encryption_key"
        case signingKey = "signing_key"
        case proof
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        enrollmentToken = try container.decode(String.self, forKey: .enrollmentToken)
        hostname = try container.decode(String.self, forKey: .hostname)
        computerSID = try container.decodeIfPresent(String.self, forKey: .computerSID)
        computerGUID = try container.decodeIfPresent(String.self, forKey: .computerGUID)
        os = try container.decodeIfPresent(String.self, forKey: .os)
        agentVersion = try container.decode(String.self, forKey: .agentVersion)
        encryptionKey = try container.decode(JSONValue.self, forKey: .encryptionKey)
        signingKey = try container.decode(JSONValue.self, forKey: .signingKey)
        proof = try container.decodeIfPresent(SignedChallenge.self, forKey: .proof)
    }
}

/// A signature by a device's current Ed25519 key over a challenge: the body of `POST /v1/agent/token` (over
/// ``DeviceProof/renewalMessage(nonce:deviceID:)``, docs/agent-protocol.md "Device tokens") and the `proof` of a
/// re-enrollment (over ``DeviceProof/reenrollmentMessage(nonce:deviceID:encryptionKey:signingKey:)``).
public struct SignedChallenge: Sendable, Hashable, Codable {
    /// The device id.
    public var deviceID: String
    /// The challenge's nonce.
    public var nonce: String
    /// Unpadded base64url Ed25519 signature.
    public var signature: String

    /// Creates a signed challenge.
    ///
    /// - Parameters:
    ///   - deviceID: The device id.
    ///   - nonce: The nonce.
    ///   - signature: The signature, unpadded base64url.
    public init(deviceID: String, nonce: String, signature: String) {
        self.deviceID = deviceID
        self.nonce = nonce
        self.signature = signature
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case deviceID = "device_id", nonce, signature
    }

    /// Decodes the body, refusing unknown members.
    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        deviceID = try container.decode(String.self, forKey: .deviceID)
        nonce = try container.decode(String.self, forKey: .nonce)
        signature = try container.decode(String.self, forKey: .signature)
    }
}

/// The answer to `POST /v1/agent/enroll`; members an agent does not know are ignored.
public struct EnrollAnswer: Sendable, Hashable, Codable {
    /// The enrollment answer's `signing_keys`: a JWKS whose entries may carry `status`, `nbf` and `exp`.
    public struct KeySet: Sendable, Hashable, Codable {
        /// The entries as sent.
        public var keys: [JSONValue]

        /// Creates a key set.
        ///
        /// - Parameter keys: The entries.
        public init(keys: [JSONValue]) {
            self.keys = keys
        }
    }

    /// A directory computer the service linked the device to.
    public struct Computer: Sendable, Hashable, Codable {
        /// The computer's objectGUID.
        public var guid: String?
        /// The computer's SID.
        public var sid: String?
        /// The computer's name.
        public var name: String?

        /// Creates a computer reference.
        ///
        /// - Parameters:
        ///   - guid: The objectGUID.
        ///   - sid: The SID.
        ///   - name: The name.
        public init(guid: String? = nil, sid: String? = nil, name: String? = nil) {
            self.guid = guid
            self.sid = sid
            self.name = name
        }
    }

    /// The device id: the bundles' `sub` and `aud`.
    public var deviceID: String
    /// The device token (`chtd_…`).
    public var deviceToken: String
    /// When the device token stops working.
    public var tokenExpiresAt: Date?
    /// `active` or `pending_approval`.
    public var status: String?
    /// The tenant id: the bundles' `tenant`.
    public var tenantID: String
    /// The issuer: the bundles' `iss`.
    public var issuer: String
    /// The tenant signing keys to pin.
    public var signingKeys: KeySet
    /// The linked directory computer; `null` while none is linked.
    public var computer: Computer?

    /// Creates an enrollment answer.
    ///
    /// - Parameters:
    ///   - deviceID: The device id.
    ///   - deviceToken: The device token.
    ///   - tokenExpiresAt: When the device token expires.
    ///   - status: `active` or `pending_approval`.
    ///   - tenantID: The tenant id.
    ///   - issuer: The issuer.
    ///   - signingKeys: The signing keys.
    ///   - computer: The linked computer.
    public init(
        deviceID: String, deviceToken: String, tokenExpiresAt: Date?, status: String?, tenantID: String, issuer: String,
        signingKeys: KeySet, computer: Computer?
    ) {
        self.deviceID = deviceID
        self.deviceToken = deviceToken
        self.tokenExpiresAt = tokenExpiresAt
        self.status = status
        self.tenantID = tenantID
        self.issuer = issuer
        self.signingKeys = signingKeys
        self.computer = computer
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id", deviceToken = "device_token", tenantID = "tenant_id", issuer
        case signingKeys = "signing_keys", computer, status
        case tokenExpiresAt = "token_expires_at"
    }

    /// Encodes the answer; `computer` is written as `null` when no computer is linked.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deviceID, forKey: .deviceID)
        try container.encode(deviceToken, forKey: .deviceToken)
        try container.encodeIfPresent(tokenExpiresAt, forKey: .tokenExpiresAt)
        try container.encodeIfPresent(status, forKey: .status)
        try container.encode(tenantID, forKey: .tenantID)
        try container.encode(issuer, forKey: .issuer)
        try container.encode(signingKeys, forKey: .signingKeys)
        try container.encode(computer, forKey: .computer)
    }
}

/// A single-use challenge from `POST /v1/agent/challenge`, for the device key to sign.
public struct Challenge: Sendable, Hashable, Codable {
    /// The nonce to sign (43 base64url characters).
    public var nonce: String
    /// When the service stops accepting it.
    public var expiresAt: Date

    /// Creates a challenge.
    ///
    /// - Parameters:
    ///   - nonce: The nonce.
    ///   - expiresAt: When it expires.
    public init(nonce: String, expiresAt: Date) {
        self.nonce = nonce
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case nonce
        case expiresAt = "expires_at"
    }
}

/// A new device token from `POST /v1/agent/token`.
///
/// > Warning: It holds the device token; store it as the enrollment's and never log it.
public struct DeviceTokenRenewal: Sendable, Hashable, Codable {
    /// The new device token (`chtd_…`).
    public var deviceToken: String
    /// When it stops working unless renewed again.
    public var tokenExpiresAt: Date

    /// Creates a renewal answer.
    ///
    /// - Parameters:
    ///   - deviceToken: The device token.
    ///   - tokenExpiresAt: When it expires.
    public init(deviceToken: String, tokenExpiresAt: Date) {
        self.deviceToken = deviceToken
        self.tokenExpiresAt = tokenExpiresAt
    }

    enum CodingKeys: String, CodingKey {
        case deviceToken = "device_token"
        case tokenExpiresAt = "token_expires_at"
    }
}
