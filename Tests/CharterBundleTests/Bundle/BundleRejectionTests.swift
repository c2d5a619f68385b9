import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("Bundle rejections: every check fails with its own error")
struct BundleRejectionTests {
    let fixture = BundleFixture()

    func expectRejection(
        _ expected: BundleError,
        _ bundle: String,
        verifier: BundleVerifier? = nil,
        at date: Date? = nil
    ) {
        #expect(throws: expected) {
            try (verifier ?? fixture.verifier).verify(bundle, now: date ?? fixture.now)
        }
    }

    @Test("something that is not a compact JWE is malformed")
    func malformed() throws {
        expectRejection(.malformed(.malformedCompactSerialization(expectedParts: 5)), "not a bundle")
        let jwsOnly = try JWS(signing: Data("{}".utf8), type: BundleIssuer.type, with: fixture.tenantKey)
        expectRejection(.malformed(.malformedCompactSerialization(expectedParts: 5)), jwsOnly.compactSerialization)
    }

    @Test("a bundle encrypted to another device's key is not for this device")
    func otherDevice() throws {
        let otherKey = JWK(Curve25519.KeyAgreement.PrivateKey().publicKey)
        let bundle = try fixture.issuerService.issue(fixture.claims(), to: otherKey)
        expectRejection(.notForThisDevice(keyID: otherKey.thumbprint), bundle)
    }

    @Test("an altered ciphertext fails decryption")
    func tamperedCiphertext() throws {
        var parts = try fixture.bundle().split(separator: ".").map(String.init)
        var ciphertext = try #require(Base64URL.decode(parts[3]))
        ciphertext[ciphertext.startIndex + 10] ^= 0x01
        parts[3] = Base64URL.encode(ciphertext)
        expectRejection(.decryptionFailed, parts.joined(separator: "."))
    }

    @Test("an outer JWE without cty JWT is refused")
    func wrongContentType() throws {
        let claims = try JSONEncoder().encode(fixture.claims())
        let bundle = try HandMadeBundle.make(
            payload: claims,
            signWith: fixture.tenantKey,
            contentType: nil,
            to: fixture.deviceJWK
        )
        expectRejection(.wrongContentType(nil), bundle)
    }

    @Test("an inner JWS with another typ is refused (no confusion with other signed tokens)")
    func wrongType() throws {
        let claims = try JSONEncoder().encode(fixture.claims())
        let bundle = try HandMadeBundle.make(
            payload: claims,
            signWith: fixture.tenantKey,
            type: "JWT",
            to: fixture.deviceJWK
        )
        expectRejection(.wrongType("JWT"), bundle)
    }

    @Test(
        "typ compares as a media type: case-insensitively, with or without application/",
        arguments: [
            ("charter-bundle+jwt", true), ("Charter-Bundle+JWT", true), ("application/charter-bundle+jwt", true),
            ("APPLICATION/charter-bundle+JWT", true), ("charter-bundle", false), ("text/charter-bundle+jwt", false),
            ("charter-bundle+jwt ", false), ("", false),
        ]
    )
    func typeComparison(type: String, accepted: Bool) throws {
        #expect(BundleVerifier.isBundleType(type) == accepted)
        let claims = try JSONEncoder().encode(fixture.claims())
        let bundle = try HandMadeBundle.make(payload: claims, signWith: fixture.tenantKey, type: type, to: fixture.deviceJWK)
        if accepted {
            #expect(throws: Never.self) { try fixture.verifier.verify(bundle, now: fixture.now) }
        } else {
            expectRejection(.wrongType(type), bundle)
        }
    }

    @Test("a signing_keys entry whose kid is not its thumbprint makes the claims malformed")
    func signingKeyIDMismatch() throws {
        var members = try HandMadeBundle.claimsMembers(fixture.claims())
        guard case .array(var keys) = members["signing_keys"], case .object(var first) = keys[0] else {
            Issue.record("the fixture has signing keys")
            return
        }
        first["kid"] = .string(JWK(Curve25519.Signing.PrivateKey().publicKey).thumbprint)
        keys[0] = .object(first)
        members["signing_keys"] = .array(keys)
        let bundle = try HandMadeBundle.make(members: members, signWith: fixture.tenantKey, to: fixture.deviceJWK)
        expectRejection(.malformedClaims(claim: "signing_keys"), bundle)
    }

    @Test("a bundle signed by a key the agent does not pin is refused")
    func unknownKey() throws {
        let rogue = Curve25519.Signing.PrivateKey()
        let claims = fixture.claims(signingKeys: [BundleSigningKey(key: JWK(rogue.publicKey), status: .active)])
        let bundle = try BundleIssuer(signingKey: rogue).issue(claims, to: fixture.deviceJWK)
        expectRejection(.unknownSigningKey(keyID: JWK(rogue.publicKey).thumbprint), bundle)
    }

    @Test("a signature made by another key under the pinned kid is invalid (tampered content)")
    func invalidSignature() throws {
        let claims = try JSONEncoder().encode(fixture.claims())
        let bundle = try HandMadeBundle.make(
            payload: claims,
            signWith: Curve25519.Signing.PrivateKey(),
            keyID: JWK(fixture.tenantKey.publicKey).thumbprint,
            to: fixture.deviceJWK
        )
        expectRejection(.invalidSignature, bundle)
    }

    static let claimDefects: [(String, JSONValue?, String)] = [
        ("ver", nil, "ver"),
        ("ver", .string("7"), "ver"),
        ("exp", nil, "exp"),
        ("aud", .string("dev-other"), "aud"),
        ("pin", .object(["alg": "HS1"]), "pin"),
        (
            "signing_keys",
            [["kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "status": "active"]],
            "signing_keys"
        ),
        ("policy", ["documents": [:], "computer": "c", "default_user": "d", "users": []], "policy.computer"),
    ]

    @Test("a signed payload with a missing or invalid claim is refused and names the claim", arguments: claimDefects)
    func malformedClaims(claim: String, value: JSONValue?, named: String) throws {
        var members = try HandMadeBundle.claimsMembers(fixture.claims())
        members[claim] = value
        let bundle = try HandMadeBundle.make(members: members, signWith: fixture.tenantKey, to: fixture.deviceJWK)
        expectRejection(.malformedClaims(claim: named), bundle)
    }

    @Test("a bundle made for another device id, even encrypted to this key, is refused")
    func wrongDevice() throws {
        var claims = fixture.claims()
        claims.deviceID = "dev-other"
        expectRejection(.wrongDevice(expected: fixture.deviceID, actual: "dev-other"), try fixture.bundle(claims))
    }

    @Test("a bundle from another issuer or tenant is refused when the agent knows its own")
    func wrongIssuerOrTenant() throws {
        var claims = fixture.claims()
        claims.issuer = "https://evil.example"
        expectRejection(
            .wrongIssuer(expected: fixture.issuer, actual: "https://evil.example"),
            try fixture.bundle(claims)
        )
        claims = fixture.claims()
        claims.tenant = "globex"
        expectRejection(.wrongTenant(expected: fixture.tenant, actual: "globex"), try fixture.bundle(claims))
    }

    @Test("a bundle whose signing_keys does not list its signing key as active is refused")
    func notAnnounced() throws {
        let keyID = JWK(fixture.tenantKey.publicKey).thumbprint
        var members = try HandMadeBundle.claimsMembers(fixture.claims())
        let entry = BundleSigningKey(key: JWK(fixture.tenantKey.publicKey), status: .next)
        members["signing_keys"] = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode([entry]))
        let bundle = try HandMadeBundle.make(members: members, signWith: fixture.tenantKey, to: fixture.deviceJWK)
        expectRejection(.signingKeyNotAnnounced(keyID: keyID), bundle)
    }

    @Test("an older version than the one held is a downgrade (replay)")
    func downgrade() throws {
        let verifier = BundleVerifier(
            deviceID: fixture.deviceID,
            deviceKey: fixture.deviceKey,
            trustedKeys: [BundleSigningKey(key: JWK(fixture.tenantKey.publicKey), status: .active)],
            heldVersion: 5
        )
        expectRejection(
            .versionDowngrade(held: 5, received: 4),
            try fixture.bundle(fixture.claims(version: 4)),
            verifier: verifier
        )
    }

    @Test("before nbf (beyond the skew) the bundle is not yet valid; after exp (beyond the skew) it is expired")
    func validityWindow() throws {
        let claims = fixture.claims()
        let bundle = try fixture.bundle(claims)
        expectRejection(.notYetValid(notBefore: claims.notBefore), bundle, at: claims.notBefore - 301)
        expectRejection(.expired(expiresAt: claims.expiresAt), bundle, at: claims.expiresAt + 300)
    }

    @Test("every rejection has its own stable code")
    func distinctCodes() {
        let errors: [BundleError] = [
            .malformed(.invalidSignature), .notForThisDevice(keyID: ""), .decryptionFailed, .wrongContentType(nil),
            .wrongType(nil), .unknownSigningKey(keyID: nil), .signingKeyNotValid(keyID: ""), .invalidSignature,
            .malformedClaims(claim: ""), .wrongDevice(expected: "", actual: ""), .wrongIssuer(expected: "", actual: ""),
            .wrongTenant(expected: "", actual: ""), .signingKeyNotAnnounced(keyID: ""),
            .versionDowngrade(held: 0, received: 0), .notYetValid(notBefore: Date()), .expired(expiresAt: Date()),
            .invalidDeviceKey(.keyAgreementFailed), .cryptographicFailure(.keyAgreementFailed),
        ]
        let codes = errors.map(\.code)
        #expect(Set(codes).count == codes.count)
        #expect(codes.allSatisfy { $0.hasPrefix("bundle.") })
    }
}

@Suite("Bundle issuer refusals")
struct BundleIssuerTests {
    let fixture = BundleFixture()

    @Test("the issuer refuses inconsistent claims and names the claim")
    func inconsistent() {
        var claims = fixture.claims()
        claims.policy.defaultUser = "missing"
        #expect(throws: BundleError.malformedClaims(claim: "policy.default_user")) { try fixture.bundle(claims) }
        claims = fixture.claims()
        claims.expiresAt = claims.notBefore
        #expect(throws: BundleError.malformedClaims(claim: "exp")) { try fixture.bundle(claims) }
        claims = fixture.claims()
        claims.policy.documents["computer"] = "not an object"
        #expect(throws: BundleError.malformedClaims(claim: "policy.documents")) { try fixture.bundle(claims) }
        claims = fixture.claims()
        claims.policy.users.append(BundlePolicy.User(document: "default"))
        #expect(throws: BundleError.malformedClaims(claim: "policy.users")) { try fixture.bundle(claims) }
    }

    @Test("the issuer refuses to sign with a key the claims do not announce as active")
    func notAnnounced() {
        let claims = fixture.claims(signingKeys: [])
        #expect(throws: BundleError.signingKeyNotAnnounced(keyID: JWK(fixture.tenantKey.publicKey).thumbprint)) {
            try fixture.bundle(claims)
        }
    }

    @Test("the issuer refuses a device key that is not X25519")
    func deviceKey() {
        #expect(throws: BundleError.invalidDeviceKey(.keyCurveMismatch(expected: .x25519, actual: .ed25519))) {
            try fixture.issuerService.issue(fixture.claims(), to: JWK(Curve25519.Signing.PrivateKey().publicKey))
        }
    }
}
