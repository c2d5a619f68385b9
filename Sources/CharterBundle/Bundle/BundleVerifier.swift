import CharterJSON
public import Crypto
public import Foundation

/// Checks bundles on the agent, in a fixed order, and returns the claims only when all pass.
///
/// The order (each failure is a distinct ``BundleError``):
/// 1. the outer JWE parses, with `alg: ECDH-ES+A256KW`, `enc: A256GCM`, no `zip`/`crit`;
/// 2. its `cty` is `JWT`, and its `kid`, when present, is this device key's thumbprint;
/// 3. it decrypts with the device's X25519 private key;
/// 4. the inner JWS parses, with `alg: Ed25519` (or the deprecated `EdDSA`), no `crit`;
/// 5. its `typ` is ``BundleIssuer/type``;
/// 6. its `kid` names a pinned key that is not retired and is within its validity;
/// 7. the signature verifies with that key;
/// 8. the claims decode (`aud` equals `sub`);
/// 9. `sub` is this device's id; `iss` and `tenant` match when the verifier knows them;
/// 10. the policy's document references are consistent;
/// 11. `signing_keys` lists the signing key as `active`;
/// 12. `ver` is not lower than the version held;
/// 13. `nbf` and `exp` hold at `now`, with ``clockSkew`` tolerance.
///
/// The agent persists the bundle only after ``verify(_:now:)`` returns, then continues with
/// ``accepting(_:)``, which raises the held version and replaces the pinned keys by the
/// bundle's non-retired `signing_keys`, so that a `next` key announced in a bundle signed by
/// the current key becomes trusted.
public struct BundleVerifier: Sendable {
    /// This device's id, which must be the bundle's `sub` and `aud`.
    public let deviceID: String
    /// This device's X25519 private key.
    public let deviceKey: Curve25519.KeyAgreement.PrivateKey
    /// The pinned tenant signing keys (from enrollment, then from accepted bundles).
    public let trustedKeys: [BundleSigningKey]
    /// The version of the bundle the agent holds, or `nil` before the first one.
    public let heldVersion: Int64?
    /// The expected `iss`, or `nil` to accept any.
    public let issuer: String?
    /// The expected `tenant`, or `nil` to accept any.
    public let tenant: String?
    /// The tolerance for `nbf`, `exp` and key validity, in seconds.
    public let clockSkew: TimeInterval

    /// The default clock tolerance: five minutes, as Kerberos allows in an AD domain.
    public static let defaultClockSkew: TimeInterval = 300

    /// Creates a verifier.
    ///
    /// - Parameters:
    ///   - deviceID: This device's id.
    ///   - deviceKey: This device's X25519 private key.
    ///   - trustedKeys: The pinned signing keys.
    ///   - heldVersion: The version held, or `nil`.
    ///   - issuer: The expected issuer, or `nil`.
    ///   - tenant: The expected tenant, or `nil`.
    ///   - clockSkew: The clock tolerance in seconds.
    public init(
        deviceID: String,
        deviceKey: Curve25519.KeyAgreement.PrivateKey,
        trustedKeys: [BundleSigningKey],
        heldVersion: Int64? = nil,
        issuer: String? = nil,
        tenant: String? = nil,
        clockSkew: TimeInterval = defaultClockSkew
    ) {
        self.deviceID = deviceID
        self.deviceKey = deviceKey
        self.trustedKeys = trustedKeys
        self.heldVersion = heldVersion
        self.issuer = issuer
        self.tenant = tenant
        self.clockSkew = clockSkew
    }

    /// Creates a verifier that pins the keys of the enrollment answer's JWKS as active keys.
    ///
    /// - Parameters:
    ///   - deviceID: This device's id.
    ///   - deviceKey: This device's X25519 private key.
    ///   - enrollmentKeys: The tenant's signing keys from the enrollment answer.
    ///   - issuer: The expected issuer, or `nil`.
    ///   - tenant: The expected tenant, or `nil`.
    public init(
        deviceID: String,
        deviceKey: Curve25519.KeyAgreement.PrivateKey,
        enrollmentKeys: JWKSet,
        issuer: String? = nil,
        tenant: String? = nil
    ) {
        self.init(
            deviceID: deviceID,
            deviceKey: deviceKey,
            trustedKeys: enrollmentKeys.keys.filter { $0.curve == .ed25519 }.map {
                BundleSigningKey(key: $0, status: .active)
            },
            issuer: issuer,
            tenant: tenant
        )
    }

    /// Decrypts and verifies a bundle.
    ///
    /// - Parameters:
    ///   - bundle: The compact JWE as received.
    ///   - now: The current time.
    /// - Returns: The verified bundle.
    /// - Throws: The ``BundleError`` of the first check that fails, in the order above.
    public func verify(_ bundle: String, now: Date) throws(BundleError) -> VerifiedBundle {
        let jws = try signedToken(in: bundle)
        guard Self.isBundleType(jws.header.type) else {
            throw .wrongType(jws.header.type)
        }
        guard let keyID = jws.header.keyID, let pinned = trustedKeys.first(where: { $0.keyID == keyID }) else {
            throw .unknownSigningKey(keyID: jws.header.keyID)
        }
        guard pinned.isUsable(at: now, clockSkew: clockSkew) else {
            throw .signingKeyNotValid(keyID: keyID)
        }
        do {
            try jws.verifySignature(with: pinned.key)
        } catch {
            throw .invalidSignature
        }
        let claims = try Self.decodeClaims(jws.payload)
        try check(claims, signedBy: keyID, now: now)
        return VerifiedBundle(claims: claims, signingKeyID: keyID, compactSerialization: bundle)
    }

    /// The verifier to use after the agent has persisted an accepted bundle.
    ///
    /// - Parameter bundle: The bundle just accepted.
    /// - Returns: A verifier that holds the bundle's version and pins its non-retired signing keys.
    public func accepting(_ bundle: VerifiedBundle) -> BundleVerifier {
        BundleVerifier(
            deviceID: deviceID,
            deviceKey: deviceKey,
            trustedKeys: bundle.trustedKeysAfterAcceptance,
            heldVersion: max(heldVersion ?? bundle.claims.version, bundle.claims.version),
            issuer: issuer,
            tenant: tenant,
            clockSkew: clockSkew
        )
    }

    /// Whether a `typ` names ``BundleIssuer/type``: media types compare case-insensitively, and a value
    /// without `/` stands for `application/<value>` (RFC 7515 §4.1.9), so `Charter-Bundle+JWT` and
    /// `application/charter-bundle+jwt` match too.
    ///
    /// - Parameter type: The inner header's `typ`.
    /// - Returns: Whether it is Charter's bundle type.
    public static func isBundleType(_ type: String?) -> Bool {
        guard var type = type?.lowercased() else { return false }
        if type.hasPrefix("application/") { type.removeFirst("application/".count) }
        return type == BundleIssuer.type
    }

    private func signedToken(in bundle: String) throws(BundleError) -> JWS {
        let jwe: JWE
        do {
            jwe = try JWE(compactSerialization: bundle)
        } catch {
            throw .malformed(error)
        }
        guard jwe.header.contentType?.uppercased() == BundleIssuer.contentType else {
            throw .wrongContentType(jwe.header.contentType)
        }
        let plaintext: Data
        do {
            plaintext = try jwe.decrypt(with: deviceKey)
        } catch .recipientMismatch(let keyID) {
            throw .notForThisDevice(keyID: keyID)
        } catch .keyAgreementFailed {
            throw .malformed(.keyAgreementFailed)
        } catch {
            throw .decryptionFailed
        }
        do {
            return try JWS(compactSerialization: String(decoding: plaintext, as: UTF8.self))
        } catch {
            throw .malformed(error)
        }
    }

    private static func decodeClaims(_ payload: Data) throws(BundleError) -> BundleClaims {
        do {
            return try JSONCoding.decode(BundleClaims.self, from: payload)
        } catch let error as DecodingError {
            throw .malformedClaims(claim: Self.claimName(of: error))
        } catch {
            throw .malformedClaims(claim: "signing_keys")
        }
    }

    private static func claimName(of error: DecodingError) -> String {
        let path: [any CodingKey]
        switch error {
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = context.codingPath
        @unknown default:
            path = []
        }
        return path.first?.stringValue ?? "claims"
    }

    private func check(_ claims: BundleClaims, signedBy keyID: String, now: Date) throws(BundleError) {
        guard claims.deviceID == deviceID else {
            throw .wrongDevice(expected: deviceID, actual: claims.deviceID)
        }
        if let issuer, claims.issuer != issuer {
            throw .wrongIssuer(expected: issuer, actual: claims.issuer)
        }
        if let tenant, claims.tenant != tenant {
            throw .wrongTenant(expected: tenant, actual: claims.tenant)
        }
        if let claim = claims.policy.firstInconsistency {
            throw .malformedClaims(claim: claim)
        }
        guard claims.signingKeys.contains(where: { $0.keyID == keyID && $0.status == .active }) else {
            throw .signingKeyNotAnnounced(keyID: keyID)
        }
        if let heldVersion, claims.version < heldVersion {
            throw .versionDowngrade(held: heldVersion, received: claims.version)
        }
        guard now >= claims.notBefore.addingTimeInterval(-clockSkew) else {
            throw .notYetValid(notBefore: claims.notBefore)
        }
        guard now < claims.expiresAt.addingTimeInterval(clockSkew) else {
            throw .expired(expiresAt: claims.expiresAt)
        }
    }
}
