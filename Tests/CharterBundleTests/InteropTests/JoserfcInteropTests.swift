import CharterBundle
import Crypto
import Foundation
import Testing

/// Charter's bundles against an independent JOSE implementation, Python's joserfc.
///
/// Needs `CHARTER_PYTHON` (default `python3`) with `joserfc>=1.6` installed; fails with a hint otherwise.
@Suite("Interop with joserfc")
struct JoserfcInteropTests {
    let fixture = BundleFixture()

    static func privateJWK(_ key: Curve25519.Signing.PrivateKey) -> JSONValue {
        [
            "kty": "OKP", "crv": "Ed25519", "x": .string(Base64URL.encode(key.publicKey.rawRepresentation)),
            "d": .string(Base64URL.encode(key.rawRepresentation)),
        ]
    }

    static func privateJWK(_ key: Curve25519.KeyAgreement.PrivateKey) -> JSONValue {
        [
            "kty": "OKP", "crv": "X25519", "x": .string(Base64URL.encode(key.publicKey.rawRepresentation)),
            "d": .string(Base64URL.encode(key.rawRepresentation)),
        ]
    }

    static func json(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    @Test("joserfc 1.6 or later is installed for CHARTER_PYTHON")
    func versions() async throws {
        let answer = try await InteropScript.run("versions", [:])
        let version = try #require(answer["joserfc"]?.stringValue)
        let parts = version.split(separator: ".").compactMap { Int($0) }
        #expect(parts.count >= 2 && (parts[0], parts[1]) >= (1, 6), "joserfc \(version) is too old")
    }

    @Test("joserfc decrypts a Charter bundle, verifies its Ed25519 signature and reads the same claims")
    func joserfcOpensCharterBundle() async throws {
        let claims = fixture.claims(userCount: 50)
        let bundle = try fixture.issuerService.issue(claims, to: fixture.deviceJWK)
        let answer = try await InteropScript.run(
            "open",
            [
                "device_private_jwk": Self.privateJWK(fixture.deviceKey),
                "tenant_public_jwk": Self.json(JWK(fixture.tenantKey.publicKey)),
                "bundle": .string(bundle),
            ]
        )
        #expect(answer["claims"] == (try Self.json(claims)))
        #expect(answer["jws_header"]?["kid"] == .string(JWK(fixture.tenantKey.publicKey).thumbprint))
        #expect(answer["jwe_header"]?["kid"] == .string(fixture.deviceJWK.thumbprint))
    }

    @Test(
        "Charter's verifier accepts a nested JWT made by joserfc, under RFC 9864's Ed25519 and the deprecated EdDSA",
        arguments: ["Ed25519", "EdDSA"]
    )
    func charterAcceptsJoserfcBundle(alg: String) async throws {
        let claims = fixture.claims(version: 3, userCount: 5)
        let answer = try await InteropScript.run(
            "issue",
            [
                "tenant_private_jwk": Self.privateJWK(fixture.tenantKey),
                "device_public_jwk": Self.json(fixture.deviceJWK),
                "claims": Self.json(claims),
                "alg": .string(alg),
            ]
        )
        let bundle = try #require(answer["bundle"]?.stringValue)
        let verified = try fixture.verifier.verify(bundle, now: fixture.now)
        #expect(verified.claims == claims)
        let inner = try JWS(
            compactSerialization: String(
                decoding: JWE(compactSerialization: bundle).decrypt(with: fixture.deviceKey),
                as: UTF8.self
            )
        )
        #expect(inner.header.algorithm.rawValue == alg)
    }

    @Test("Charter refuses a joserfc-made bundle for another device")
    func charterRefusesForeignBundle() async throws {
        let other = Curve25519.KeyAgreement.PrivateKey()
        let answer = try await InteropScript.run(
            "issue",
            [
                "tenant_private_jwk": Self.privateJWK(fixture.tenantKey),
                "device_public_jwk": Self.json(JWK(other.publicKey)),
                "claims": Self.json(fixture.claims()),
            ]
        )
        let bundle = try #require(answer["bundle"]?.stringValue)
        #expect(throws: BundleError.notForThisDevice(keyID: JWK(other.publicKey).thumbprint)) {
            try fixture.verifier.verify(bundle, now: fixture.now)
        }
    }

    @Test("offline-PIN responses agree with Python's hmac for random secrets and challenges")
    func pinResponses() async throws {
        for digits in [6, 8, 10] {
            let generated = OfflinePIN.generate()
            let pin = try OfflinePIN(secret: generated.secret, digits: digits)
            let challenge = pin.makeChallenge()
            let now = Date()
            let answer = try await InteropScript.run(
                "pin-response",
                [
                    "secret": .string(Base64URL.encode(pin.secret)),
                    "challenge": .string(try #require(pin.normalizedChallenge(challenge))),
                    "step": .integer(pin.step(at: now)),
                    "digits": .integer(Int64(digits)),
                ]
            )
            #expect(answer["response"] == .string(try pin.response(for: challenge, at: now)))
        }
    }
}
