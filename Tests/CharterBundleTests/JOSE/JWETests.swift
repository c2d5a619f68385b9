import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("JWE compact with ECDH-ES+A256KW and A256GCM")
struct JWETests {
    static let recipient = Curve25519.KeyAgreement.PrivateKey()
    static let recipientJWK = JWK(recipient.publicKey)

    static func headerMembers(of compact: String) throws -> [String: JSONValue] {
        let header = try #require(Base64URL.decode(compact.split(separator: ".")[0]))
        return try JSONDecoder().decode([String: JSONValue].self, from: header)
    }

    @Test("encrypts to the recipient's X25519 key and decrypts with its private key")
    func roundTrip() throws {
        let jwe = try JWE(encrypting: Data("secret policy".utf8), to: Self.recipientJWK, contentType: "JWT")
        let parsed = try JWE(compactSerialization: jwe.compactSerialization)
        #expect(try parsed.decrypt(with: Self.recipient) == Data("secret policy".utf8))
    }

    @Test(
        "the header carries alg, enc, epk (kty, crv, x only), kid = recipient thumbprint and cty; no apu/apv by default"
    )
    func header() throws {
        let jwe = try JWE(encrypting: Data("x".utf8), to: Self.recipientJWK, contentType: "JWT")
        let members = try Self.headerMembers(of: jwe.compactSerialization)
        #expect(Set(members.keys) == ["alg", "enc", "epk", "kid", "cty"])
        #expect(members["alg"] == .string("ECDH-ES+A256KW"))
        #expect(members["enc"] == .string("A256GCM"))
        #expect(members["kid"] == .string(Self.recipientJWK.thumbprint))
        #expect(members["cty"] == .string("JWT"))
        #expect(Set(try #require(members["epk"]?.objectValue).keys) == ["kty", "crv", "x"])
        #expect(jwe.encryptedKey.count == 40 && jwe.initializationVector.count == 12 && jwe.tag.count == 16)
    }

    @Test("apu and apv are carried and bound into the key derivation")
    func partyInfo() throws {
        let jwe = try JWE(
            encrypting: Data("x".utf8),
            to: Self.recipientJWK,
            contentType: nil,
            partyUInfo: Data("Alice".utf8),
            partyVInfo: Data("Bob".utf8)
        )
        let members = try Self.headerMembers(of: jwe.compactSerialization)
        #expect(members["apu"] == .string("QWxpY2U"))
        #expect(members["apv"] == .string("Qm9i"))
        #expect(try JWE(compactSerialization: jwe.compactSerialization).decrypt(with: Self.recipient) == Data("x".utf8))
    }

    @Test("a JWE for another key names that key and is refused before any decryption")
    func otherRecipient() throws {
        let other = JWK(Curve25519.KeyAgreement.PrivateKey().publicKey)
        let jwe = try JWE(encrypting: Data("x".utf8), to: other, contentType: "JWT")
        #expect(throws: JOSEError.recipientMismatch(keyID: other.thumbprint)) {
            try jwe.decrypt(with: Self.recipient)
        }
    }

    @Test(
        "altering any part of the ciphertext side is detected",
        arguments: [
            (1, JOSEError.keyUnwrapFailed), (2, .decryptionFailed), (3, .decryptionFailed), (4, .decryptionFailed),
        ]
    )
    func tampering(partIndex: Int, expected: JOSEError) throws {
        let jwe = try JWE(encrypting: Data("secret policy".utf8), to: Self.recipientJWK, contentType: "JWT")
        var parts = jwe.compactSerialization.split(separator: ".").map(String.init)
        var bytes = try #require(Base64URL.decode(parts[partIndex]))
        bytes[bytes.startIndex] ^= 0x80
        parts[partIndex] = Base64URL.encode(bytes)
        let tampered = try JWE(compactSerialization: parts.joined(separator: "."))
        #expect(throws: expected) {
            try tampered.decrypt(with: Self.recipient)
        }
    }

    @Test("a changed protected header (a member added) fails authentication")
    func headerTampering() throws {
        let jwe = try JWE(encrypting: Data("x".utf8), to: Self.recipientJWK, contentType: "JWT")
        var members = try Self.headerMembers(of: jwe.compactSerialization)
        members["typ"] = .string("JOSE")
        var parts = jwe.compactSerialization.split(separator: ".").map(String.init)
        parts[0] = Base64URL.encode(JSONValue.object(members).canonicalData)
        #expect(throws: JOSEError.decryptionFailed) {
            try JWE(compactSerialization: parts.joined(separator: ".")).decrypt(with: Self.recipient)
        }
    }

    @Test("without kid, a wrong private key fails at key unwrapping")
    func wrongKeyWithoutKid() throws {
        let jwe = try JWE(encrypting: Data("x".utf8), to: Self.recipientJWK, contentType: "JWT")
        var members = try Self.headerMembers(of: jwe.compactSerialization)
        members["kid"] = nil
        var parts = jwe.compactSerialization.split(separator: ".").map(String.init)
        parts[0] = Base64URL.encode(JSONValue.object(members).canonicalData)
        #expect(throws: JOSEError.keyUnwrapFailed) {
            try JWE(compactSerialization: parts.joined(separator: ".")).decrypt(
                with: Curve25519.KeyAgreement.PrivateKey()
            )
        }
    }

    @Test("a low-order ephemeral key (all-zero shared secret) is refused")
    func lowOrderPoint() throws {
        let jwe = try JWE(encrypting: Data("x".utf8), to: Self.recipientJWK, contentType: "JWT")
        var members = try Self.headerMembers(of: jwe.compactSerialization)
        members["epk"] = .object(["kty": "OKP", "crv": "X25519", "x": .string(Base64URL.encode(Data(count: 32)))])
        var parts = jwe.compactSerialization.split(separator: ".").map(String.init)
        parts[0] = Base64URL.encode(JSONValue.object(members).canonicalData)
        #expect(throws: JOSEError.keyAgreementFailed) {
            try JWE(compactSerialization: parts.joined(separator: ".")).decrypt(with: Self.recipient)
        }
    }

    @Test("encrypting to an Ed25519 key is refused")
    func wrongRecipientCurve() {
        #expect(throws: JOSEError.keyCurveMismatch(expected: .x25519, actual: .ed25519)) {
            try JWE(encrypting: Data(), to: JWK(Curve25519.Signing.PrivateKey().publicKey), contentType: nil)
        }
    }

    static let epk: JSONValue = .object([
        "kty": "OKP", "crv": "X25519",
        "x": .string(Base64URL.encode(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)),
    ])

    static func withHeader(_ changes: [String: JSONValue?], parts: [String]? = nil) -> String {
        var members: [String: JSONValue] = ["alg": "ECDH-ES+A256KW", "enc": "A256GCM", "epk": epk]
        for (name, value) in changes {
            members[name] = value
        }
        let rest = parts ?? [zeros40, zeros12, "", zeros16]
        return ([Base64URL.encode(JSONValue.object(members).canonicalData)] + rest).joined(separator: ".")
    }

    static let zeros40 = Base64URL.encode(Data(count: 40))
    static let zeros12 = Base64URL.encode(Data(count: 12))
    static let zeros16 = Base64URL.encode(Data(count: 16))
    static let ed25519EPK: JSONValue = [
        "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    ]

    static let rejections: [(String, JOSEError?)] = [
        (withHeader([:]), nil),
        (withHeader(["alg": "ECDH-ES"]), JOSEError.unsupportedAlgorithm("ECDH-ES")),
        (withHeader(["alg": "RSA-OAEP-256"]), .unsupportedAlgorithm("RSA-OAEP-256")),
        (withHeader(["alg": "dir"]), .unsupportedAlgorithm("dir")),
        (withHeader(["enc": "A128GCM"]), .unsupportedEncryption("A128GCM")),
        (withHeader(["enc": "A256CBC-HS512"]), .unsupportedEncryption("A256CBC-HS512")),
        (withHeader(["enc": nil]), .missingHeaderParameter("enc")),
        (withHeader(["zip": "DEF"]), .unsupportedCompression("DEF")),
        (withHeader(["crit": ["exp"]]), .unsupportedCriticalParameters(["exp"])),
        (withHeader(["epk": nil]), .missingHeaderParameter("epk")),
        (withHeader(["epk": "key"]), .invalidHeaderParameter("epk")),
        (withHeader(["epk": ed25519EPK]), .keyCurveMismatch(expected: .x25519, actual: .ed25519)),
        (withHeader(["apu": "Zg=="]), .invalidHeaderParameter("apu")),
        (withHeader([:], parts: ["AAAA", zeros12, "", zeros16]), .invalidLength(part: "encrypted key")),
        (withHeader([:], parts: [zeros40, "AAAA", "", zeros16]), .invalidLength(part: "initialization vector")),
        (withHeader([:], parts: [zeros40, zeros12, "", "AAAA"]), .invalidLength(part: "authentication tag")),
        (withHeader([:], parts: [zeros40, zeros12, "A", zeros16]), .invalidBase64URL(part: "ciphertext")),
        ("a.b.c.d", .malformedCompactSerialization(expectedParts: 5)),
    ]

    @Test(
        "anything but ECDH-ES+A256KW / A256GCM with an X25519 epk, or bad part lengths, is rejected at parsing",
        arguments: rejections
    )
    func rejects(compact: String, expected: JOSEError?) throws {
        if let expected {
            #expect(throws: expected) {
                try JWE(compactSerialization: compact)
            }
        } else {
            _ = try JWE(compactSerialization: compact)
        }
    }
}
