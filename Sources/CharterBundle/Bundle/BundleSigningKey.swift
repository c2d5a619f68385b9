public import CharterJSON
public import Foundation

/// A tenant's bundle-signing public key with its rotation status and validity.
///
/// On the wire it is a JWK with three more members: `status` (`active`, `next` or `retired`),
/// and optionally `nbf` and `exp` (NumericDate seconds). The same shape serves the `signing_keys`
/// claim, the enrollment answer and `GET /v1/tenants/{tenant}/signing-keys`.
public struct BundleSigningKey: Sendable, Hashable, Codable {
    /// Where a key is in its rotation.
    public enum Status: String, Sendable, Hashable, Codable {
        /// The key that signs bundles now.
        case active
        /// The key that will sign bundles after the next rotation; agents start to trust it now.
        case next
        /// A key that no longer signs; agents stop trusting it.
        case retired
    }

    /// The Ed25519 public key; its `kid` is its RFC 7638 thumbprint.
    public var key: JWK
    /// The rotation status.
    public var status: Status
    /// The start of the key's validity (`nbf`), if limited.
    public var notBefore: Date?
    /// The end of the key's validity (`exp`), if limited.
    public var expiresAt: Date?

    /// Creates a signing-key entry.
    ///
    /// - Parameters:
    ///   - key: The Ed25519 public JWK; when it has no `kid`, its thumbprint is used.
    ///   - status: The rotation status.
    ///   - notBefore: The start of validity, or `nil`.
    ///   - expiresAt: The end of validity, or `nil`.
    public init(key: JWK, status: Status, notBefore: Date? = nil, expiresAt: Date? = nil) {
        var key = key
        key.keyID = key.keyID ?? key.thumbprint
        self.key = key
        self.status = status
        self.notBefore = notBefore
        self.expiresAt = expiresAt
    }

    /// The key id (`kid`).
    public var keyID: String {
        key.keyID ?? key.thumbprint
    }

    /// Tells whether the key may verify a bundle at a time: not retired, and within `nbf`/`exp`
    /// widened by the clock skew.
    ///
    /// - Parameters:
    ///   - date: The time of the check.
    ///   - clockSkew: The tolerance, in seconds.
    /// - Returns: `true` when the key may be used.
    public func isUsable(at date: Date, clockSkew: TimeInterval) -> Bool {
        guard status != .retired else {
            return false
        }
        if let notBefore, date < notBefore.addingTimeInterval(-clockSkew) {
            return false
        }
        if let expiresAt, date >= expiresAt.addingTimeInterval(clockSkew) {
            return false
        }
        return true
    }

    private enum CodingKeys: String, CodingKey {
        case status
        case notBefore = "nbf"
        case expiresAt = "exp"
    }

    /// Decodes a signing-key entry from a JWK with `status` and optional `nbf`/`exp`.
    ///
    /// - Parameter decoder: The decoder to read from.
    /// - Throws: `DecodingError` or ``JOSEError`` for an invalid key, or a `kid` that is not its RFC 7638 thumbprint.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let key = try JWK(from: decoder)
        guard key.curve == .ed25519 else {
            throw JOSEError.keyCurveMismatch(expected: .ed25519, actual: key.curve)
        }
        // Keys are found by `kid`: one that is not the key's thumbprint could stand in for another key's id.
        if let keyID = key.keyID, keyID != key.thumbprint {
            throw JOSEError.invalidKey(member: "kid")
        }
        self.init(
            key: key,
            status: try container.decode(Status.self, forKey: .status),
            notBefore: try container.decodeIfPresent(NumericDate.self, forKey: .notBefore)?.date,
            expiresAt: try container.decodeIfPresent(NumericDate.self, forKey: .expiresAt)?.date
        )
    }

    /// Encodes the entry as one flat JSON object.
    ///
    /// - Parameter encoder: The encoder to write to.
    /// - Throws: Only what the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        try jsonValue.encode(to: encoder)
    }

    /// The entry as one flat JSON object: the JWK's members plus `status`, `nbf` and `exp`.
    public var jsonValue: JSONValue {
        var members = key.members
        members["status"] = .string(status.rawValue)
        if let notBefore { members["nbf"] = .integer(NumericDate(notBefore).seconds) }
        if let expiresAt { members["exp"] = .integer(NumericDate(expiresAt).seconds) }
        return .object(members)
    }
}
