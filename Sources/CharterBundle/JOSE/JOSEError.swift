/// A failure to parse, verify, encrypt or decrypt a JOSE object or key.
///
/// Every case has a stable ``code`` such as `jose.invalid_signature`.
public enum JOSEError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The compact serialisation does not have the expected number of dot-separated parts.
    case malformedCompactSerialization(expectedParts: Int)
    /// A part of the serialisation (or a key member) is not canonical unpadded base64url.
    case invalidBase64URL(part: String)
    /// A part of the serialisation is not a JSON object of the expected shape.
    case invalidJSON(part: String)
    /// A required header parameter is absent.
    case missingHeaderParameter(String)
    /// A header parameter has the wrong type or an unusable value.
    case invalidHeaderParameter(String)
    /// The `alg` value is not one this module accepts.
    case unsupportedAlgorithm(String)
    /// The `enc` value is not one this module accepts.
    case unsupportedEncryption(String)
    /// The header asks for compression (`zip`), which this module refuses.
    case unsupportedCompression(String)
    /// The header lists critical extensions (`crit`), none of which this module implements.
    case unsupportedCriticalParameters([String])
    /// A JWK has a `kty` other than `OKP`.
    case unsupportedKeyType(String)
    /// A JWK has a `crv` other than `Ed25519` or `X25519`.
    case unsupportedCurve(String)
    /// A JWK member is missing or has an unusable value; the associated value names the member.
    case invalidKey(member: String)
    /// A JWK that must be public carries private key material (`d`).
    case privateKeyMaterialPresent
    /// A key of one curve is used where another is needed.
    case keyCurveMismatch(expected: JWK.Curve, actual: JWK.Curve)
    /// No trusted key has the `kid` of the object (`nil` when the header has no `kid`).
    case unknownKeyID(String?)
    /// The signature does not verify.
    case invalidSignature
    /// The JWE names another recipient key (`kid`) than the one used to decrypt.
    case recipientMismatch(keyID: String)
    /// A JWE part has the wrong length for the algorithms; the associated value names the part.
    case invalidLength(part: String)
    /// The X25519 agreement with the ephemeral key failed (for example a low-order point).
    case keyAgreementFailed
    /// The content-encryption key does not unwrap: wrong recipient key or altered header or key.
    case keyUnwrapFailed
    /// The content does not decrypt and authenticate: altered header, IV, ciphertext or tag.
    case decryptionFailed
    /// The cryptographic library refused an operation on valid input; the associated value names it.
    case cryptographicFailure(operation: String)

    /// A stable, machine-readable identifier of the failure.
    public var code: String {
        switch self {
        case .malformedCompactSerialization: "jose.malformed_compact_serialization"
        case .invalidBase64URL: "jose.invalid_base64url"
        case .invalidJSON: "jose.invalid_json"
        case .missingHeaderParameter: "jose.missing_header_parameter"
        case .invalidHeaderParameter: "jose.invalid_header_parameter"
        case .unsupportedAlgorithm: "jose.unsupported_algorithm"
        case .unsupportedEncryption: "jose.unsupported_encryption"
        case .unsupportedCompression: "jose.unsupported_compression"
        case .unsupportedCriticalParameters: "jose.unsupported_critical_parameters"
        case .unsupportedKeyType: "jose.unsupported_key_type"
        case .unsupportedCurve: "jose.unsupported_curve"
        case .invalidKey: "jose.invalid_key"
        case .privateKeyMaterialPresent: "jose.private_key_material_present"
        case .keyCurveMismatch: "jose.key_curve_mismatch"
        case .unknownKeyID: "jose.unknown_key_id"
        case .invalidSignature: "jose.invalid_signature"
        case .recipientMismatch: "jose.recipient_mismatch"
        case .invalidLength: "jose.invalid_length"
        case .keyAgreementFailed: "jose.key_agreement_failed"
        case .keyUnwrapFailed: "jose.key_unwrap_failed"
        case .decryptionFailed: "jose.decryption_failed"
        case .cryptographicFailure: "jose.cryptographic_failure"
        }
    }

    /// A human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .malformedCompactSerialization(let expectedParts):
            "a compact serialisation must have \(expectedParts) dot-separated parts"
        case .invalidBase64URL(let part):
            "\(part) is not unpadded base64url"
        case .invalidJSON(let part):
            "\(part) is not a JSON object of the expected shape"
        case .missingHeaderParameter(let name):
            "header parameter '\(name)' is required"
        case .invalidHeaderParameter(let name):
            "header parameter '\(name)' has an invalid value"
        case .unsupportedAlgorithm(let alg):
            "algorithm '\(alg)' is not supported"
        case .unsupportedEncryption(let enc):
            "content encryption '\(enc)' is not supported"
        case .unsupportedCompression(let zip):
            "compression '\(zip)' is not supported"
        case .unsupportedCriticalParameters(let names):
            "critical header parameters \(names) are not supported"
        case .unsupportedKeyType(let kty):
            "key type '\(kty)' is not supported; only OKP is"
        case .unsupportedCurve(let crv):
            "curve '\(crv)' is not supported; only Ed25519 and X25519 are"
        case .invalidKey(let member):
            "JWK member '\(member)' is missing or invalid"
        case .privateKeyMaterialPresent:
            "a public JWK must not contain private key material ('d')"
        case .keyCurveMismatch(let expected, let actual):
            "a \(expected.rawValue) key is needed, but the key is \(actual.rawValue)"
        case .unknownKeyID(let keyID):
            if let keyID { "no trusted key has kid '\(keyID)'" } else { "the header names no kid" }
        case .invalidSignature:
            "the signature does not verify"
        case .recipientMismatch(let keyID):
            "the JWE is encrypted to key '\(keyID)', not to this key"
        case .invalidLength(let part):
            "\(part) has the wrong length"
        case .keyAgreementFailed:
            "the key agreement with the ephemeral public key failed"
        case .keyUnwrapFailed:
            "the content-encryption key does not unwrap"
        case .decryptionFailed:
            "the content does not decrypt or authenticate"
        case .cryptographicFailure(let operation):
            "the cryptographic library failed to \(operation)"
        }
    }
}
