/// A failure to load a keyring, seal or open a secret at rest.
///
/// Every case has a stable ``code`` for logs and problem documents. No case ever carries
/// key material or plaintext.
public enum SealingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The keyring configuration names no key at all.
    case emptyKeyring
    /// An entry of the keyring configuration is not `kid:base64key`; the associated value is its 1-based position.
    case malformedEntry(position: Int)
    /// A key id is empty, longer than 64 characters or uses characters outside `A-Z a-z 0-9 _ -`.
    case invalidKeyID(String)
    /// The key of the given key id is not valid standard base64.
    case invalidBase64(keyID: String)
    /// The key of the given key id does not decode to exactly 32 bytes.
    case wrongKeyLength(keyID: String, byteCount: Int)
    /// The same key id appears twice in the keyring.
    case duplicateKeyID(String)
    /// The active key id is not among the keyring's keys.
    case unknownActiveKeyID(String)
    /// A sealed value names a key id that this keyring does not hold.
    case unknownKeyID(String)
    /// The text is not a sealed value of the form `v1.<kid>.<base64url>`.
    case malformedSealedValue
    /// The sealed value uses a format version this build does not know.
    case unsupportedVersion(String)
    /// The sealed value fails authentication: it was altered, or it is opened under another context.
    case authenticationFailed
    /// Opened bytes that should be text are not valid UTF-8.
    case invalidUTF8
    /// The cryptographic library refused to encrypt (not expected with a validated keyring).
    case encryptionFailed

    /// A stable, machine-readable identifier of the failure, such as `sealing.unknown_key_id`.
    public var code: String {
        switch self {
        case .emptyKeyring: "sealing.empty_keyring"
        case .malformedEntry: "sealing.malformed_entry"
        case .invalidKeyID: "sealing.invalid_key_id"
        case .invalidBase64: "sealing.invalid_base64"
        case .wrongKeyLength: "sealing.wrong_key_length"
        case .duplicateKeyID: "sealing.duplicate_key_id"
        case .unknownActiveKeyID: "sealing.unknown_active_key_id"
        case .unknownKeyID: "sealing.unknown_key_id"
        case .malformedSealedValue: "sealing.malformed_sealed_value"
        case .unsupportedVersion: "sealing.unsupported_version"
        case .authenticationFailed: "sealing.authentication_failed"
        case .invalidUTF8: "sealing.invalid_utf8"
        case .encryptionFailed: "sealing.encryption_failed"
        }
    }

    /// A human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .emptyKeyring:
            "the keyring configuration contains no key"
        case .malformedEntry(let position):
            "keyring entry \(position) is not of the form kid:base64key"
        case .invalidKeyID(let keyID):
            "key id '\(keyID)' must be 1 to 64 characters from A-Z a-z 0-9 _ -"
        case .invalidBase64(let keyID):
            "the key of key id '\(keyID)' is not valid base64"
        case .wrongKeyLength(let keyID, let byteCount):
            "the key of key id '\(keyID)' is \(byteCount) bytes long; a key-encryption key must be 32 bytes"
        case .duplicateKeyID(let keyID):
            "key id '\(keyID)' appears more than once in the keyring"
        case .unknownActiveKeyID(let keyID):
            "the active key id '\(keyID)' is not in the keyring"
        case .unknownKeyID(let keyID):
            "the sealed value was sealed under key id '\(keyID)', which is not in the keyring"
        case .malformedSealedValue:
            "the value is not a sealed secret of the form v1.<kid>.<base64url>"
        case .unsupportedVersion(let version):
            "sealed secret format '\(version)' is not supported"
        case .authenticationFailed:
            "the sealed value was altered or belongs to another context"
        case .invalidUTF8:
            "the opened secret is not valid UTF-8 text"
        case .encryptionFailed:
            "the secret could not be encrypted"
        }
    }
}
