public import Foundation

/// A secret sealed at rest: the key id, the AES-GCM nonce, the ciphertext and the tag.
///
/// Its text form, ``description``, is `v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>` with a
/// 12-byte nonce and a 16-byte tag, and is what a database column stores. The text is not
/// secret, but the value only opens under the same context it was sealed with.
public struct SealedSecret: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// The format version written before the first dot.
    public static let version = "v1"

    static let nonceByteCount = 12
    static let tagByteCount = 16

    /// The id of the key-encryption key that sealed the value.
    public let keyID: SecretSealer.KeyID
    /// The 12-byte AES-GCM nonce.
    public let nonce: Data
    /// The encrypted secret.
    public let ciphertext: Data
    /// The 16-byte AES-GCM authentication tag.
    public let tag: Data

    init(keyID: SecretSealer.KeyID, nonce: Data, ciphertext: Data, tag: Data) {
        self.keyID = keyID
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    /// Parses the text form `v1.<kid>.<base64url>`.
    ///
    /// - Parameter text: The stored text.
    /// - Throws: ``SealingError/unsupportedVersion(_:)`` for another version prefix,
    ///   ``SealingError/invalidKeyID(_:)`` for a bad key id and
    ///   ``SealingError/malformedSealedValue`` for anything else that does not parse.
    public init(parsing text: String) throws(SealingError) {
        guard let parts = CompactSerialization.parts(of: text, count: 3) else {
            throw .malformedSealedValue
        }
        guard parts[0] == Self.version else {
            throw .unsupportedVersion(String(parts[0]))
        }
        let keyID = try SecretSealer.KeyID(validating: String(parts[1]))
        guard let body = Base64URL.decode(parts[2]),
            body.count >= Self.nonceByteCount + Self.tagByteCount
        else {
            throw .malformedSealedValue
        }
        self.init(
            keyID: keyID,
            nonce: Data(body.prefix(Self.nonceByteCount)),
            ciphertext: Data(body.dropFirst(Self.nonceByteCount).dropLast(Self.tagByteCount)),
            tag: Data(body.suffix(Self.tagByteCount))
        )
    }

    /// Parses the text form, returning `nil` when it is not a valid sealed value.
    ///
    /// - Parameter description: The stored text.
    public init?(_ description: String) {
        guard let value = try? SealedSecret(parsing: description) else {
            return nil
        }
        self = value
    }

    /// The text form `v1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
    public var description: String {
        "\(Self.version).\(keyID.rawValue).\(Base64URL.encode(nonce + ciphertext + tag))"
    }
}
