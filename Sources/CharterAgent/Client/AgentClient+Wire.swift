// The request and answer bodies of docs/agent-protocol.md are defined once, in CharterAgentWire, for the
// service and this client alike; they are part of this module's API (`CheckinUser`, `AuditEvent`, `Challenge`,
// …), so it re-exports them. Requests carry exactly the documented members (the service refuses unknown
// ones); answers ignore members they do not know.
@_exported public import CharterAgentWire
internal import CharterBundle
internal import Foundation

extension AgentClient {
    /// Encodes a request body: members sorted, dates as RFC 3339 UTC, nil members left out.
    static func encode(_ body: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(body)
    }

    /// A public JWK with only the members enrollment accepts: `kty`, `crv`, `x` and `use`.
    static func publicJWK(curve: JWK.Curve, x: Data, use: JWK.KeyUse) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JWK(curve: curve, x: x, use: use).jsonData)
    }
}

/// The enrollment answer's `signing_keys`.
typealias SigningKeySet = EnrollAnswer.KeySet

extension EnrollAnswer.KeySet {
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
