import CharterBundle
import Crypto
import Foundation
import Testing

@Suite("JWK and JWK Set")
struct JWKTests {
    static let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"

    @Test("a key made from an Ed25519 public key carries kid = thumbprint, use sig, alg Ed25519 and round-trips")
    func signingKeyRoundTrip() throws {
        let jwk = JWK(Curve25519.Signing.PrivateKey().publicKey)
        #expect(jwk.keyID == jwk.thumbprint)
        #expect(jwk.use == .signature)
        #expect(jwk.algorithm == "Ed25519")
        #expect(try JWK(jsonData: jwk.jsonData) == jwk)
        #expect(try jwk.signingPublicKey().rawRepresentation == jwk.x)
    }

    @Test("a key made from an X25519 public key carries use enc and alg ECDH-ES+A256KW")
    func agreementKey() throws {
        let jwk = JWK(Curve25519.KeyAgreement.PrivateKey().publicKey)
        #expect(jwk.curve == .x25519)
        #expect(jwk.use == .encryption)
        #expect(jwk.algorithm == "ECDH-ES+A256KW")
        #expect(throws: JOSEError.keyCurveMismatch(expected: .ed25519, actual: .x25519)) {
            try jwk.signingPublicKey()
        }
    }

    @Test("serialisation sorts members and has no whitespace")
    func serialisation() throws {
        let jwk = try JWK(curve: .ed25519, x: #require(Base64URL.decode(Self.x)), keyID: "k", use: .signature)
        #expect(
            String(decoding: jwk.jsonData, as: UTF8.self)
                == #"{"crv":"Ed25519","kid":"k","kty":"OKP","use":"sig","x":"\#(Self.x)"}"#
        )
    }

    @Test("the thumbprint ignores kid, use and alg")
    func thumbprintIgnoresOptionalMembers() throws {
        let bare = try JWK(jsonData: Data(#"{"kty":"OKP","crv":"Ed25519","x":"\#(Self.x)"}"#.utf8))
        let decorated = try JWK(
            jsonData: Data(
                #"{"kty":"OKP","crv":"Ed25519","x":"\#(Self.x)","kid":"a","use":"sig","alg":"EdDSA","extra":1}"#.utf8
            )
        )
        #expect(bare.thumbprint == decorated.thumbprint)
    }

    @Test(
        "invalid JWKs are rejected with a precise error",
        arguments: [
            (#"{"crv":"Ed25519","x":"\#(x)"}"#, JOSEError.invalidKey(member: "kty")),
            (#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#, .unsupportedKeyType("RSA")),
            (#"{"kty":"EC","crv":"P-256","x":"\#(x)","y":"\#(x)"}"#, .unsupportedKeyType("EC")),
            (#"{"kty":"OKP","crv":"Ed448","x":"\#(x)"}"#, .unsupportedCurve("Ed448")),
            (#"{"kty":"OKP","x":"\#(x)"}"#, .invalidKey(member: "crv")),
            (#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","d":"\#(x)"}"#, .privateKeyMaterialPresent),
            (#"{"kty":"OKP","crv":"Ed25519"}"#, .invalidKey(member: "x")),
            (#"{"kty":"OKP","crv":"Ed25519","x":"\#(x.prefix(20))"}"#, .invalidKey(member: "x")),
            (#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)="}"#, .invalidBase64URL(part: "JWK member 'x'")),
            (#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","use":"wrap"}"#, .invalidKey(member: "use")),
            (#"{"kty":"OKP","crv":"Ed25519","x":"\#(x)","kid":7}"#, .invalidKey(member: "kid")),
            (#"["OKP"]"#, .invalidJSON(part: "JWK")),
        ]
    )
    func rejects(json: String, expected: JOSEError) {
        #expect(throws: expected) {
            try JWK(jsonData: Data(json.utf8))
        }
    }

    @Test("a JWK Set skips keys of unsupported types and finds keys by kid")
    func jwks() throws {
        let signing = JWK(Curve25519.Signing.PrivateKey().publicKey)
        let json =
            #"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},\#(String(decoding: signing.jsonData, as: UTF8.self))]}"#
        let set = try JWKSet(jsonData: Data(json.utf8))
        #expect(set.keys == [signing])
        #expect(set.key(withID: signing.thumbprint) == signing)
        #expect(set.key(withID: "nope") == nil)
        #expect(try JWKSet(jsonData: set.jsonData) == set)
        #expect(try JSONDecoder().decode(JWKSet.self, from: JSONEncoder().encode(set)) == set)
    }

    @Test("a JWK Set with an invalid supported key is rejected")
    func jwksInvalid() {
        #expect(throws: JOSEError.privateKeyMaterialPresent) {
            try JWKSet(
                jsonData: Data(#"{"keys":[{"kty":"OKP","crv":"X25519","x":"\#(Self.x)","d":"\#(Self.x)"}]}"#.utf8)
            )
        }
        #expect(throws: JOSEError.invalidJSON(part: "JWK Set")) {
            try JWKSet(jsonData: Data(#"{"key":[]}"#.utf8))
        }
    }
}
