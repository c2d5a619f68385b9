import CharterJSON
import Crypto
import Foundation
import Testing

@testable import CharterBundle

@Suite("Claims JSON")
struct ClaimsJSONTests {
    @Test("every truncation of a valid document is refused, never a crash")
    func truncations() throws {
        let text = Array(BundleFixture().claims().jsonValue.canonicalData)
        for length in stride(from: 0, to: text.count - 1, by: 7) {
            #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(text[..<length]) }
        }
    }

    @Test("the canonical form of the claims parses back to the same value, and is stable")
    func roundTrip() throws {
        let claims = BundleFixture().claims(userCount: 20).jsonValue
        let text = claims.canonicalData
        let parsed = try JSONParser.parse(text)
        #expect(parsed == claims)
        #expect(parsed.canonicalData == text)
    }
}

@Suite("Canonical writing fast paths")
struct CanonicalWritingTests {
    @Test("claims written member by member equal the canonical form of their JSON tree")
    func claimsWriter() throws {
        let fixture = BundleFixture()
        var claims = fixture.claims(userCount: 7)
        claims.policy.users.append(BundlePolicy.User(upn: "only-upn@example.com", document: claims.policy.computer))
        claims.policy.users.append(BundlePolicy.User(sid: "S-1-5-21-1-2-3-500", document: claims.policy.computer))
        claims.policy.documents["é\"quote"] = ["key\n": "value\u{01}", "b": [1.5, -3]]
        claims.signingKeys.append(
            BundleSigningKey(
                key: JWK(Curve25519.Signing.PrivateKey().publicKey),
                status: .retired,
                notBefore: fixture.now - 1000,
                expiresAt: fixture.now + 0.75
            )
        )
        #expect(claims.canonicalBytes == claims.jsonValue.canonicalBytes)
    }

    @Test("base64url agrees with Foundation's base64 for every length up to 200, both ways")
    func base64() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...200 {
            let bytes = Data((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
            let expected = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(Base64URL.encode(bytes) == expected)
            #expect(Base64URL.decode(expected) == bytes)
            var appended: [UInt8] = [0x2E]
            Base64URL.append(encoding: bytes, to: &appended)
            #expect(appended == [0x2E] + Array(expected.utf8))
        }
    }

    @Test("a compact serialisation splits into exactly its parts")
    func split() {
        #expect(CompactSerialization.parts(of: "a.bc..d", count: 4) == ["a", "bc", "", "d"])
        #expect(CompactSerialization.parts(of: "", count: 1) == [""])
        #expect(CompactSerialization.parts(of: "a.b", count: 3) == nil)
        #expect(CompactSerialization.parts(of: "a.b.c.d", count: 3) == nil)
        #expect(CompactSerialization.parts(of: "é.🔐", count: 2) == ["é", "🔐"])
    }

    @Test("the OKP thumbprint shortcut equals the generic RFC 7638 computation")
    func thumbprint() {
        let keys = [JWK(Curve25519.Signing.PrivateKey().publicKey), JWK(Curve25519.KeyAgreement.PrivateKey().publicKey)]
        for key in keys {
            let generic = JWKThumbprint.compute(requiredMembers: [
                "crv": key.curve.rawValue, "kty": "OKP", "x": Base64URL.encode(key.x),
            ])
            #expect(key.thumbprint == generic)
        }
    }
}
