public import Foundation

/// A reason a bundle is refused by ``BundleVerifier`` or cannot be made by ``BundleIssuer``.
///
/// Every case has a stable ``code`` such as `bundle.version_downgrade`, for the agent's logs
/// and audit events. See `docs/bundle-format.md` for the order in which the checks run.
public enum BundleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The outer JWE or the inner JWS is structurally invalid or uses a refused algorithm or header.
    case malformed(JOSEError)
    /// The outer JWE is encrypted to another device key (its `kid` is not this device key's thumbprint).
    case notForThisDevice(keyID: String)
    /// The outer JWE does not decrypt: altered, truncated, or not encrypted to this device key.
    case decryptionFailed
    /// The outer JWE's `cty` is not `JWT`.
    case wrongContentType(String?)
    /// The inner JWS's `typ` is not ``BundleIssuer/type``.
    case wrongType(String?)
    /// No pinned key has the inner JWS's `kid` (`nil` when it has none).
    case unknownSigningKey(keyID: String?)
    /// The pinned key is retired, or the bundle is checked outside the key's `nbf`/`exp`.
    case signingKeyNotValid(keyID: String)
    /// The signature does not verify with the pinned key: the signed content was altered.
    case invalidSignature
    /// A claim is missing or has the wrong type or value; the associated value names it.
    case malformedClaims(claim: String)
    /// `sub` or `aud` is not this device's id: the bundle was made for another device.
    case wrongDevice(expected: String, actual: String)
    /// `iss` is not the issuer this agent enrolled with.
    case wrongIssuer(expected: String, actual: String)
    /// `tenant` is not the tenant this agent enrolled in.
    case wrongTenant(expected: String, actual: String)
    /// `signing_keys` does not list the key that signed the bundle as `active`.
    case signingKeyNotAnnounced(keyID: String)
    /// `ver` is lower than the version the agent holds: a replayed older bundle.
    case versionDowngrade(held: Int64, received: Int64)
    /// `nbf` lies in the future, beyond the allowed clock skew.
    case notYetValid(notBefore: Date)
    /// `exp` has passed, beyond the allowed clock skew.
    case expired(expiresAt: Date)
    /// The device key given to the issuer is not a usable X25519 public key.
    case invalidDeviceKey(JOSEError)
    /// The cryptographic library failed on valid input while issuing.
    case cryptographicFailure(JOSEError)

    /// A stable, machine-readable identifier of the failure.
    public var code: String {
        switch self {
        case .malformed: "bundle.malformed"
        case .notForThisDevice: "bundle.not_for_this_device"
        case .decryptionFailed: "bundle.decryption_failed"
        case .wrongContentType: "bundle.wrong_content_type"
        case .wrongType: "bundle.wrong_type"
        case .unknownSigningKey: "bundle.unknown_signing_key"
        case .signingKeyNotValid: "bundle.signing_key_not_valid"
        case .invalidSignature: "bundle.invalid_signature"
        case .malformedClaims: "bundle.malformed_claims"
        case .wrongDevice: "bundle.wrong_device"
        case .wrongIssuer: "bundle.wrong_issuer"
        case .wrongTenant: "bundle.wrong_tenant"
        case .signingKeyNotAnnounced: "bundle.signing_key_not_announced"
        case .versionDowngrade: "bundle.version_downgrade"
        case .notYetValid: "bundle.not_yet_valid"
        case .expired: "bundle.expired"
        case .invalidDeviceKey: "bundle.invalid_device_key"
        case .cryptographicFailure: "bundle.cryptographic_failure"
        }
    }

    /// A human-readable explanation of the failure.
    public var description: String {
        switch self {
        case .malformed(let error):
            "the bundle is malformed: \(error.description)"
        case .notForThisDevice(let keyID):
            "the bundle is encrypted to key '\(keyID)', not to this device's key"
        case .decryptionFailed:
            "the bundle does not decrypt with this device's key; it was altered or is not for this device"
        case .wrongContentType(let cty):
            "the bundle's cty is '\(cty ?? "(none)")', not 'JWT'"
        case .wrongType(let typ):
            "the bundle's typ is '\(typ ?? "(none)")', not '\(BundleIssuer.type)'"
        case .unknownSigningKey(let keyID):
            "the bundle is signed by key '\(keyID ?? "(none)")', which this agent does not trust"
        case .signingKeyNotValid(let keyID):
            "signing key '\(keyID)' is retired or outside its validity"
        case .invalidSignature:
            "the bundle's signature does not verify; its content was altered"
        case .malformedClaims(let claim):
            "bundle claim '\(claim)' is missing or invalid"
        case .wrongDevice(let expected, let actual):
            "the bundle is for device '\(actual)', not for this device '\(expected)'"
        case .wrongIssuer(let expected, let actual):
            "the bundle's issuer is '\(actual)', not '\(expected)'"
        case .wrongTenant(let expected, let actual):
            "the bundle's tenant is '\(actual)', not '\(expected)'"
        case .signingKeyNotAnnounced(let keyID):
            "signing_keys does not list the signing key '\(keyID)' as active"
        case .versionDowngrade(let held, let received):
            "the bundle has version \(received), older than the version \(held) already held"
        case .notYetValid(let notBefore):
            "the bundle is not valid before \(notBefore)"
        case .expired(let expiresAt):
            "the bundle expired at \(expiresAt)"
        case .invalidDeviceKey(let error):
            "the device key cannot receive a bundle: \(error.description)"
        case .cryptographicFailure(let error):
            "the bundle could not be made: \(error.description)"
        }
    }
}
