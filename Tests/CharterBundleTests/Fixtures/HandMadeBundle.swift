import CharterBundle
import Crypto
import Foundation

/// Builds bundles the way a faulty or hostile issuer could, bypassing `BundleIssuer`'s checks (tests only).
enum HandMadeBundle {
    static func claimsMembers(_ claims: BundleClaims) throws -> [String: JSONValue] {
        try JSONDecoder().decode([String: JSONValue].self, from: JSONEncoder().encode(claims))
    }

    /// Signs `payload` with `key` under a header of our choosing, then encrypts it to `recipient`.
    static func make(
        payload: Data,
        signWith key: Curve25519.Signing.PrivateKey,
        keyID: String? = nil,
        type: String? = BundleIssuer.type,
        contentType: String? = "JWT",
        to recipient: JWK
    ) throws -> String {
        var header: [String: JSONValue] = ["alg": "Ed25519", "kid": .string(keyID ?? JWK(key.publicKey).thumbprint)]
        if let type { header["typ"] = .string(type) }
        let signingInput = "\(Base64URL.encode(JSONValue.object(header).canonicalData)).\(Base64URL.encode(payload))"
        let signature = try key.signature(for: Data(signingInput.utf8))
        let jws = "\(signingInput).\(Base64URL.encode(signature))"
        return try JWE(encrypting: Data(jws.utf8), to: recipient, contentType: contentType).compactSerialization
    }

    static func make(
        members: [String: JSONValue],
        signWith key: Curve25519.Signing.PrivateKey,
        to recipient: JWK
    ) throws -> String {
        try make(payload: JSONValue.object(members).canonicalData, signWith: key, to: recipient)
    }
}
