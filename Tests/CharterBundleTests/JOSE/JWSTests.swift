import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("JWS compact with Ed25519")
struct JWSTests {
    static let key = Curve25519.Signing.PrivateKey()
    static let keys = JWKSet(keys: [JWK(key.publicKey)])

    @Test("the header is {alg: Ed25519, kid: thumbprint, typ}, sorted, and the signature verifies with the pinned key")
    func signAndVerify() throws {
        let jws = try JWS(signing: Data("hello".utf8), type: "charter-bundle+jwt", with: Self.key)
        let header = try #require(Base64URL.decode(jws.compactSerialization.split(separator: ".")[0]))
        let thumbprint = JWK(Self.key.publicKey).thumbprint
        #expect(
            String(decoding: header, as: UTF8.self)
                == #"{"alg":"Ed25519","kid":"\#(thumbprint)","typ":"charter-bundle+jwt"}"#
        )
        let parsed = try JWS(compactSerialization: jws.compactSerialization)
        #expect(try parsed.verifySignature(trusting: Self.keys) == JWK(Self.key.publicKey))
        #expect(parsed.payload == Data("hello".utf8))
        #expect(parsed.header.type == "charter-bundle+jwt")
    }

    @Test("a signature by a key that is not pinned fails with unknown key id")
    func unknownKey() throws {
        let jws = try JWS(signing: Data("x".utf8), type: nil, with: Curve25519.Signing.PrivateKey())
        #expect(throws: JOSEError.unknownKeyID(jws.header.keyID)) {
            try JWS(compactSerialization: jws.compactSerialization).verifySignature(trusting: Self.keys)
        }
    }

    @Test("a pinned kid that maps to a different key fails the signature")
    func kidCollision() throws {
        let other = Curve25519.Signing.PrivateKey()
        let jws = try JWS(signing: Data("x".utf8), type: nil, with: other)
        var impostor = JWK(Self.key.publicKey)
        impostor.keyID = jws.header.keyID
        #expect(throws: JOSEError.invalidSignature) {
            try jws.verifySignature(trusting: JWKSet(keys: [impostor]))
        }
    }

    @Test("an X25519 key cannot verify a signature")
    func wrongCurve() throws {
        let jws = try JWS(signing: Data("x".utf8), type: nil, with: Self.key)
        let x25519 = JWK(Curve25519.KeyAgreement.PrivateKey().publicKey)
        #expect(throws: JOSEError.keyCurveMismatch(expected: .ed25519, actual: .x25519)) {
            try jws.verifySignature(with: x25519)
        }
    }

    static func compact(header: String, payload: String = "e30", signature: String = "AAAA") -> String {
        "\(Base64URL.encode(Data(header.utf8))).\(payload).\(signature)"
    }

    @Test(
        "unacceptable headers and structures are rejected before any key is used",
        arguments: [
            (compact(header: #"{"alg":"none"}"#), JOSEError.unsupportedAlgorithm("none")),
            (compact(header: #"{"alg":"HS256"}"#), .unsupportedAlgorithm("HS256")),
            (compact(header: #"{"alg":"ES256"}"#), .unsupportedAlgorithm("ES256")),
            (compact(header: #"{"kid":"k"}"#), .missingHeaderParameter("alg")),
            (compact(header: #"{"alg":5}"#), .invalidHeaderParameter("alg")),
            (compact(header: #"{"alg":"Ed25519","crit":["exp"],"exp":1}"#), .unsupportedCriticalParameters(["exp"])),
            (compact(header: #"{"alg":"Ed25519","b64":false}"#), .invalidHeaderParameter("b64")),
            (compact(header: #"{"alg":"Ed25519","kid":1}"#), .invalidHeaderParameter("kid")),
            (compact(header: #"{"alg":"Ed25519","typ":true}"#), .invalidHeaderParameter("typ")),
            (compact(header: #"["alg"]"#), .invalidJSON(part: "protected header")),
            (compact(header: #"{"alg":"Ed25519"}"#, payload: "e30="), .invalidBase64URL(part: "payload")),
            (compact(header: #"{"alg":"Ed25519"}"#, signature: "A*"), .invalidBase64URL(part: "signature")),
            ("e30.e30", .malformedCompactSerialization(expectedParts: 3)),
            ("a.b.c.d", .malformedCompactSerialization(expectedParts: 3)),
            ("!!.e30.AAAA", .invalidBase64URL(part: "protected header")),
        ]
    )
    func rejects(compact: String, expected: JOSEError) {
        #expect(throws: expected) {
            try JWS(compactSerialization: compact)
        }
    }

    @Test("a signature of the wrong length is invalid, not a crash")
    func shortSignature() throws {
        let jws = try JWS(signing: Data("x".utf8), type: nil, with: Self.key)
        let parts = jws.compactSerialization.split(separator: ".")
        let short = try JWS(compactSerialization: "\(parts[0]).\(parts[1]).AAAA")
        #expect(throws: JOSEError.invalidSignature) {
            try short.verifySignature(trusting: Self.keys)
        }
    }
}
