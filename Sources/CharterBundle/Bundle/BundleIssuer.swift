public import Crypto
internal import Foundation

/// Makes bundles on the service: signs the claims with the tenant's Ed25519 key, then
/// encrypts the signed token to the device's X25519 key (a nested JWT, RFC 7519 §11.2).
///
/// The inner JWS header is `{"alg":"Ed25519","kid":<signing key thumbprint>,"typ":"charter-bundle+jwt"}`;
/// the outer JWE header is `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":…,"kid":<device key
/// thumbprint>,"cty":"JWT"}`.
public struct BundleIssuer: Sendable {
    /// The `typ` of the inner JWS.
    public static let type = "charter-bundle+jwt"
    /// The `cty` of the outer JWE.
    public static let contentType = "JWT"
    /// The media type of a bundle in HTTP answers.
    public static let mediaType = "application/jose"

    /// The tenant's bundle-signing private key.
    public let signingKey: Curve25519.Signing.PrivateKey

    /// Creates an issuer for one tenant signing key.
    ///
    /// - Parameter signingKey: The tenant's active Ed25519 private key.
    public init(signingKey: Curve25519.Signing.PrivateKey) {
        self.signingKey = signingKey
        self.signingKeyID = JWK(signingKey.publicKey).thumbprint
    }

    /// The signing key's RFC 7638 thumbprint, computed once: it is the inner `kid` of every bundle.
    let signingKeyID: String

    /// The signing key's public JWK (`kid` = its thumbprint), for JWKS answers and `signing_keys`.
    public var publicKey: JWK {
        JWK(signingKey.publicKey)
    }

    /// Issues a bundle.
    ///
    /// - Parameters:
    ///   - claims: The claims; `signing_keys` must list this issuer's key as `active`.
    ///   - deviceKey: The device's X25519 public JWK from enrollment.
    /// - Returns: The compact JWE, to be served as `application/jose`.
    /// - Throws: ``BundleError/malformedClaims(claim:)`` for inconsistent claims (a policy
    ///   reference to a missing document, `nbf` not before `exp`, …),
    ///   ``BundleError/signingKeyNotAnnounced(keyID:)`` when the signing key is not listed as
    ///   active, ``BundleError/invalidDeviceKey(_:)`` for a device key that is not X25519.
    public func issue(_ claims: BundleClaims, to deviceKey: JWK) throws(BundleError) -> String {
        if let claim = claims.firstInconsistency {
            throw .malformedClaims(claim: claim)
        }
        let keyID = signingKeyID
        guard claims.signingKeys.contains(where: { $0.keyID == keyID && $0.status == .active }) else {
            throw .signingKeyNotAnnounced(keyID: keyID)
        }
        guard deviceKey.curve == .x25519 else {
            throw .invalidDeviceKey(.keyCurveMismatch(expected: .x25519, actual: deviceKey.curve))
        }
        let payload = claims.canonicalBytes
        do {
            // The signed token goes from one byte buffer into the encryption, without a String or Data copy.
            let jws = try JWS.sign(payload, header: JWSHeader(keyID: keyID, type: Self.type), with: signingKey)
            return try JWE.seal(jws.bytes, to: deviceKey, contentType: Self.contentType).compactSerialization
        } catch .keyAgreementFailed {
            throw .invalidDeviceKey(.keyAgreementFailed)
        } catch {
            throw .cryptographicFailure(error)
        }
    }
}
