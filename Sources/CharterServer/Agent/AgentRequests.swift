import CharterBundle
import CharterCore
import CharterStore
import Crypto
import Foundation

/// `POST /v1/agent/enroll` (docs/agent-protocol.md).
struct EnrollRequest: Decodable {
    var enrollmentToken: String
    var hostname: String
    var computerSID: String?
    var computerGUID: String?
    var os: String?
    var agentVersion: String
    var encryptionKey: JSONValue
    var signingKey: JSONValue
    /// Proof by the current key of the device to re-enroll (docs/agent-protocol.md, "Re-enrollment").
    var proof: SignedChallenge?

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

    init(from decoder: any Decoder) throws {
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
/// ``DeviceProof/renewalMessage(nonce:deviceID:)``, docs/agent-protocol.md "Device tokens") and the `proof` of
/// a re-enrollment (over ``DeviceProof/reenrollmentMessage(nonce:deviceID:encryptionKey:signingKey:)``).
struct SignedChallenge: Decodable {
    var deviceID: String
    var nonce: String
    /// Unpadded base64url Ed25519 signature.
    var signature: String

    enum CodingKeys: String, CodingKey, CaseIterable {
        case deviceID = "device_id", nonce, signature
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        deviceID = try container.decode(String.self, forKey: .deviceID)
        nonce = try container.decode(String.self, forKey: .nonce)
        signature = try container.decode(String.self, forKey: .signature)
    }
}

/// A user as an agent names it: at least one of SID, objectGUID and UPN.
struct AgentUser: Codable {
    var sid: String?
    var guid: String?
    var upn: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case sid, guid, upn
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sid = try container.decodeIfPresent(String.self, forKey: .sid)
        guid = try container.decodeIfPresent(String.self, forKey: .guid)
        upn = try container.decodeIfPresent(String.self, forKey: .upn)
    }

    /// The validated user; `field` is the pointer of this entry.
    func deviceUser(field: String) throws -> DeviceUser {
        let sid = try sid.map { try AgentValidation.sid($0, field: field + "/sid") }
        let guid = try guid.map { raw -> ObjectGUID in
            guard let guid = ObjectGUID(raw) else {
                throw Problem(.validationFailed, "guid must be an objectGUID in UUID form.", field: field + "/guid")
            }
            return guid
        }
        if let upn, upn.isEmpty || upn.count > 1024 || upn.contains(where: \.isNewline) {
            throw Problem(.validationFailed, "upn must have 1 to 1024 characters.", field: field + "/upn")
        }
        let user = DeviceUser(sid: sid, guid: guid, upn: upn)
        guard user.identity != nil else {
            throw Problem(.validationFailed, "A user needs at least one of sid, guid and upn.", field: field)
        }
        return user
    }
}

/// `POST /v1/agent/checkin`.
struct CheckinRequest: Decodable {
    var agentVersion: String
    var bundleVersion: Int64?
    var users: [AgentUser]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case agentVersion = "agent_version"
        case bundleVersion = "bundle_version"
        case users
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        agentVersion = try container.decode(String.self, forKey: .agentVersion)
        bundleVersion = try container.decodeIfPresent(Int64.self, forKey: .bundleVersion)
        users = try container.decodeIfPresent([AgentUser].self, forKey: .users) ?? []
    }
}

/// `POST /v1/agent/audit`.
struct AuditUpload: Decodable {
    var events: [EndpointEvent]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case events
    }

    init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        events = try decoder.container(keyedBy: CodingKeys.self).decode([EndpointEvent].self, forKey: .events)
    }

    struct EndpointEvent: Decodable {
        var id: UUID
        var type: String
        var occurredAt: Date
        var user: AgentUser?
        var application: JSONValue?
        var details: JSONValue?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, type
            case occurredAt = "occurred_at"
            case user, application, details
        }

        init(from decoder: any Decoder) throws {
            try decoder.rejectUnknownKeys(CodingKeys.self)
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(UUID.self, forKey: .id)
            type = try container.decode(String.self, forKey: .type)
            occurredAt = try container.decode(Date.self, forKey: .occurredAt)
            user = try container.decodeIfPresent(AgentUser.self, forKey: .user)
            application = try container.decodeIfPresent(JSONValue.self, forKey: .application)
            details = try container.decodeIfPresent(JSONValue.self, forKey: .details)
        }
    }
}

/// The checks shared by the agent routes, each failing with a 422 that names the field.
enum AgentValidation {
    static func text(_ value: String, field: String, maximum: Int) throws -> String {
        guard (1...maximum).contains(value.count), !value.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true })
        else {
            throw Problem(.validationFailed, "\(field.dropFirst()) must have 1 to \(maximum) characters and no control characters.", field: field)
        }
        return value
    }

    static func sid(_ value: String, field: String) throws -> String {
        let parts = value.uppercased().split(separator: "-", omittingEmptySubsequences: false)
        guard value.count <= 200, parts.count >= 3, parts[0] == "S", parts[1] == "1",
            parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) && $0.allSatisfy(\.isASCII) })
        else {
            throw Problem(.validationFailed, "Expected a SID such as S-1-5-21-3623811015-3361044348-30300820-1105.", field: field)
        }
        return value.uppercased()
    }

    static func key(_ value: JSONValue, curve: JWK.Curve, field: String) throws -> JWK {
        guard case .object(let members) = value else {
            throw Problem(.validationFailed, "Expected a public JWK object.", field: field)
        }
        let allowed: Set<String> = ["kty", "crv", "x", "use", "kid", "alg"]
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Problem(.validationFailed, "A public key JWK has no member '\(unknown)'.", field: field + "/" + unknown)
        }
        let key: JWK
        do {
            key = try JWK(jsonData: value.canonicalData)
        } catch {
            throw Problem(.validationFailed, "Not a valid OKP public JWK (RFC 8037): \(error).", field: field)
        }
        guard key.curve == curve else {
            throw Problem(.validationFailed, "Expected a key on curve \(curve.rawValue).", field: field + "/crv")
        }
        if curve == .x25519, !isContributory(key.x) {
            throw Problem(
                .validationFailed, "The X25519 key is a low-order point: every key agreement with it is all zeros.",
                field: field + "/x"
            )
        }
        return key
    }

    /// Whether an X25519 public key gives a shared secret that is not all zeros (RFC 7748 §6.1): a low-order
    /// point gives zeros whatever the private key, and swift-crypto (BoringSSL) then refuses the agreement, so
    /// the agreement is tried with a fresh key.
    static func isContributory(_ x: Data) -> Bool {
        guard let peer = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: x),
            let secret = try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: peer)
        else { return false }
        return secret.withUnsafeBytes { bytes in bytes.contains { $0 != 0 } }
    }
}
