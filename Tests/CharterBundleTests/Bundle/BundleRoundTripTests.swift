import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("Bundle issue and verify")
struct BundleRoundTripTests {
    @Test("a bundle issued for a device verifies on that device and yields the same claims")
    func roundTrip() throws {
        let fixture = BundleFixture()
        let claims = fixture.claims(userCount: 50)
        let bundle = try fixture.issuerService.issue(claims, to: fixture.deviceJWK)
        let verified = try fixture.verifier.verify(bundle, now: fixture.now)
        #expect(verified.claims == claims)
        #expect(verified.signingKeyID == JWK(fixture.tenantKey.publicKey).thumbprint)
        #expect(verified.compactSerialization == bundle)
    }

    @Test("the outer header is alg, enc, epk, kid (device key thumbprint), cty JWT; the inner is alg Ed25519, kid, typ")
    func headers() throws {
        let fixture = BundleFixture()
        let bundle = try fixture.bundle()
        let jwe = try JWE(compactSerialization: bundle)
        #expect(jwe.header.algorithm == .ecdhESA256KW)
        #expect(jwe.header.encryption == .a256GCM)
        #expect(jwe.header.keyID == fixture.deviceJWK.thumbprint)
        #expect(jwe.header.contentType == "JWT")
        let jws = try JWS(compactSerialization: String(decoding: jwe.decrypt(with: fixture.deviceKey), as: UTF8.self))
        #expect(
            jws.header
                == JWSHeader(
                    algorithm: .ed25519,
                    keyID: JWK(fixture.tenantKey.publicKey).thumbprint,
                    type: "charter-bundle+jwt"
                )
        )
    }

    @Test("the claims carry sub = aud = device id and NumericDate integers")
    func claimShape() throws {
        let fixture = BundleFixture()
        let members = try HandMadeBundle.claimsMembers(fixture.claims())
        #expect(members["sub"] == .string(fixture.deviceID))
        #expect(members["aud"] == .string(fixture.deviceID))
        #expect(members["iat"] == .integer(1_767_225_600))
        #expect(members["ver"] == .integer(1))
        #expect(
            Set(members.keys)
                == [
                    "iss", "sub", "aud", "tenant", "ver", "iat", "nbf", "exp", "refresh_after", "policy", "pin",
                    "signing_keys",
                ]
        )
        let policy = try #require(members["policy"]?.objectValue)
        #expect(Set(policy.keys) == ["documents", "computer", "default_user", "users"])
        let key = try #require(members["signing_keys"]?.arrayValue?.first?.objectValue)
        #expect(key["status"] == "active" && key["kty"] == "OKP" && key["crv"] == "Ed25519")
    }

    @Test("an audience given as a one-element array is accepted")
    func audienceArray() throws {
        let fixture = BundleFixture()
        var members = try HandMadeBundle.claimsMembers(fixture.claims())
        members["aud"] = [.string(fixture.deviceID)]
        let bundle = try HandMadeBundle.make(members: members, signWith: fixture.tenantKey, to: fixture.deviceJWK)
        #expect(try fixture.verifier.verify(bundle, now: fixture.now).claims.deviceID == fixture.deviceID)
    }

    @Test("policy lookup finds a user by SID, GUID or UPN and falls back to the default document")
    func policyLookup() throws {
        let fixture = BundleFixture()
        let policy = fixture.claims(userCount: 3).policy
        let first = policy.users[0]
        let approval = policy.documents["approval"]
        #expect(policy.settings(forUserSID: first.sid) == approval)
        #expect(policy.settings(forUserSID: nil, guid: first.guid?.uppercased()) == approval)
        #expect(policy.settings(forUserSID: nil, upn: "USER0@acme.example") == approval)
        #expect(policy.settings(forUserSID: "S-1-5-21-0-0-0-9999") == policy.documents["default"])
        #expect(policy.computerSettings == policy.documents["computer"])
    }

    @Test("a verifier holding version n accepts version n again and version n+1")
    func sameVersion() throws {
        let fixture = BundleFixture()
        let first = try fixture.verifier.verify(fixture.bundle(fixture.claims(version: 7)), now: fixture.now)
        let holding = fixture.verifier.accepting(first)
        #expect(holding.heldVersion == 7)
        #expect(try holding.verify(fixture.bundle(fixture.claims(version: 7)), now: fixture.now).claims.version == 7)
        #expect(try holding.verify(fixture.bundle(fixture.claims(version: 8)), now: fixture.now).claims.version == 8)
    }

    @Test("the clock skew tolerates five minutes either side of nbf and exp")
    func clockSkew() throws {
        let fixture = BundleFixture()
        let claims = fixture.claims()
        let bundle = try fixture.bundle(claims)
        #expect(throws: Never.self) { try fixture.verifier.verify(bundle, now: claims.notBefore - 299) }
        #expect(throws: Never.self) { try fixture.verifier.verify(bundle, now: claims.expiresAt + 299) }
    }
}
