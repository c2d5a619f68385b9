import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("Signing-key rotation through bundles")
struct BundleRotationTests {
    @Test(
        "a next key announced in a bundle signed by the pinned key becomes trusted, and a retired key stops being trusted"
    )
    func rotation() throws {
        let fixture = BundleFixture()
        let keyA = fixture.tenantKey
        let keyB = Curve25519.Signing.PrivateKey()
        let announce = fixture.claims(
            version: 1,
            signingKeys: [
                BundleSigningKey(key: JWK(keyA.publicKey), status: .active),
                BundleSigningKey(key: JWK(keyB.publicKey), status: .next, notBefore: fixture.now),
            ]
        )
        let signedByBTooEarly = try BundleIssuer(signingKey: keyB).issue(
            fixture.claims(version: 2, signingKeys: [BundleSigningKey(key: JWK(keyB.publicKey), status: .active)]),
            to: fixture.deviceJWK
        )
        #expect(throws: BundleError.unknownSigningKey(keyID: JWK(keyB.publicKey).thumbprint)) {
            try fixture.verifier.verify(signedByBTooEarly, now: fixture.now)
        }

        let first = try fixture.verifier.verify(fixture.bundle(announce), now: fixture.now)
        let afterAnnouncement = fixture.verifier.accepting(first)
        #expect(
            Set(afterAnnouncement.trustedKeys.map(\.keyID)) == [
                JWK(keyA.publicKey).thumbprint, JWK(keyB.publicKey).thumbprint,
            ]
        )

        let switched = fixture.claims(
            version: 2,
            signingKeys: [
                BundleSigningKey(key: JWK(keyB.publicKey), status: .active),
                BundleSigningKey(key: JWK(keyA.publicKey), status: .retired),
            ]
        )
        let second = try afterAnnouncement.verify(
            BundleIssuer(signingKey: keyB).issue(switched, to: fixture.deviceJWK),
            now: fixture.now
        )
        let afterSwitch = afterAnnouncement.accepting(second)
        #expect(afterSwitch.trustedKeys.map(\.keyID) == [JWK(keyB.publicKey).thumbprint])

        let oldKeyAgain = try fixture.bundle(fixture.claims(version: 3))
        #expect(throws: BundleError.unknownSigningKey(keyID: JWK(keyA.publicKey).thumbprint)) {
            try afterSwitch.verify(oldKeyAgain, now: fixture.now)
        }
    }

    @Test("a pinned key outside its validity or retired is refused")
    func keyValidity() throws {
        let fixture = BundleFixture()
        let jwk = JWK(fixture.tenantKey.publicKey)
        let bundle = try fixture.bundle()
        for entry in [
            BundleSigningKey(key: jwk, status: .active, expiresAt: fixture.now - 3_600),
            BundleSigningKey(key: jwk, status: .next, notBefore: fixture.now + 3_600),
            BundleSigningKey(key: jwk, status: .retired),
        ] {
            let verifier = BundleVerifier(
                deviceID: fixture.deviceID,
                deviceKey: fixture.deviceKey,
                trustedKeys: [entry]
            )
            #expect(throws: BundleError.signingKeyNotValid(keyID: jwk.thumbprint)) {
                try verifier.verify(bundle, now: fixture.now)
            }
        }
    }

    @Test("signing-key entries round-trip as JWKs with status, nbf and exp")
    func signingKeyCodable() throws {
        let entry = BundleSigningKey(
            key: JWK(Curve25519.Signing.PrivateKey().publicKey),
            status: .next,
            notBefore: Date(timeIntervalSince1970: 1_767_225_600),
            expiresAt: Date(timeIntervalSince1970: 1_798_761_600)
        )
        let data = try JSONEncoder().encode(entry)
        let members = try JSONDecoder().decode([String: JSONValue].self, from: data)
        #expect(members["status"] == "next")
        #expect(members["nbf"] == .integer(1_767_225_600))
        #expect(members["kid"] == .string(entry.keyID))
        #expect(try JSONDecoder().decode(BundleSigningKey.self, from: data) == entry)
    }
}
