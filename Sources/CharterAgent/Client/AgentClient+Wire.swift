internal import CharterBundle
internal import Foundation

// The request and answer bodies of docs/agent-protocol.md. Requests carry exactly the documented
// members (the service refuses unknown ones); answers ignore members they do not know.

extension AgentClient {
    /// Encodes a request body: members sorted, dates as RFC 3339 UTC, nil members left out.
    static func encode(_ body: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(body)
    }
}

/// A public JWK with only the members enrollment accepts: `kty`, `crv`, `x` and `use`.
struct PublicKeyJWK: Encodable {
    let jwk: JWK

    init(curve: JWK.Curve, x: Data, use: JWK.KeyUse) throws {
        jwk = try JWK(curve: curve, x: x, use: use)
    }

    func encode(to encoder: any Encoder) throws {
        try jwk.encode(to: encoder)
    }
}

struct EnrollRequest: Encodable {
    var enrollmentToken: String
    var hostname: String
    var computerSID: String?
    var computerGUID: String?
    var os: String?
    var agentVersion: String
    var encryptionKey: PublicKeyJWK
    var signingKey: PublicKeyJWK
    var proof: Proof?

    struct Proof: Encodable {
        var deviceID: String
        var nonce: String
        var signature: String

        private enum CodingKeys: String, CodingKey {
            case deviceID = "device_id", nonce, signature
        }
    }

    private enum CodingKeys: String, CodingKey {
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
}

struct TokenRequest: Encodable {
    var deviceID: String
    var nonce: String
    var signature: String

    private enum CodingKeys: String, CodingKey {
        case deviceID = "device_id", nonce, signature
    }
}

struct EnrollAnswer: Decodable {
    var deviceID: String
    var deviceToken: String
    var tokenExpiresAt: Date?
    var tenantID: String
    var issuer: String
    var signingKeys: SigningKeySet
    var computer: Enrollment.Computer?

    private enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case deviceToken = "device_token"
        case tokenExpiresAt = "token_expires_at"
        case tenantID = "tenant_id"
        case issuer
        case signingKeys = "signing_keys"
        case computer
    }
}

/// The enrollment answer's `signing_keys`: a JWKS whose entries may carry `status`, `nbf` and `exp`.
struct SigningKeySet: Decodable {
    var keys: [JSONValue]

    /// The keys to pin: Ed25519 entries, as `active` when they carry no `status`; others are skipped.
    func pinnedKeys() throws(AgentError) -> [BundleSigningKey] {
        var pinned: [BundleSigningKey] = []
        for entry in keys where entry["crv"]?.stringValue == JWK.Curve.ed25519.rawValue {
            do {
                let data = try JSONEncoder().encode(entry)
                if entry["status"] == nil {
                    pinned.append(BundleSigningKey(key: try JWK(jsonData: data), status: .active))
                } else {
                    pinned.append(try JSONDecoder().decode(BundleSigningKey.self, from: data))
                }
            } catch {
                throw .invalidResponse("enrollment signing key does not decode: \(error)")
            }
        }
        guard !pinned.isEmpty else {
            throw .invalidResponse("enrollment answer has no Ed25519 signing key")
        }
        return pinned
    }
}

struct CheckinRequest: Encodable {
    var agentVersion: String
    var bundleVersion: Int64?
    var users: [CheckinUser]

    private enum CodingKeys: String, CodingKey {
        case agentVersion = "agent_version"
        case bundleVersion = "bundle_version"
        case users
    }
}

struct AuditRequest: Encodable {
    var events: [AuditEvent]
}
