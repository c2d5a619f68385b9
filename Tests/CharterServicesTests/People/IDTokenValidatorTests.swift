import CharterBundle
import CharterJSON
import CharterServices
import Crypto
import Foundation
import Testing
import _CryptoExtras

/// Keys made for these tests, and tokens signed with them by hand (swift-crypto, not the library under test).
enum TestTokens {
    static let issuer = "https://login.msp.test/realm"
    static let clientID = "charter"
    static let nonce = "n-0S6_WzA2Mj-0123456789"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let p256 = P256.Signing.PrivateKey()
    static let ed25519 = Curve25519.Signing.PrivateKey()

    /// The provider's JWKS: the three keys, each with its kid.
    static var jwks: Data {
        let primitives = try! rsa.publicKey.getKeyPrimitives()
        let point = p256.publicKey.x963Representation.dropFirst()
        let keys: [[String: String]] = [
            [
                "kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256",
                "n": Base64URL.encode(primitives.modulus), "e": Base64URL.encode(primitives.publicExponent),
            ],
            [
                "kty": "EC", "kid": "ec-1", "crv": "P-256", "x": Base64URL.encode(point.prefix(32)),
                "y": Base64URL.encode(point.suffix(32)),
            ],
            ["kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": Base64URL.encode(ed25519.publicKey.rawRepresentation)],
        ]
        return try! JSONSerialization.data(withJSONObject: ["keys": keys])
    }

    /// Claims a valid token carries.
    static var claims: [String: Any] {
        [
            "iss": issuer, "sub": "248289761001", "aud": clientID, "exp": now.timeIntervalSince1970 + 300,
            "iat": now.timeIntervalSince1970 - 5, "nonce": nonce, "email": "alice@msp.test", "name": "Alice",
            "groups": ["charter-admins", "tenant-a"],
        ]
    }

    static var expectations: IDTokenExpectations {
        IDTokenExpectations(
            issuer: issuer, clientID: clientID, nonce: nonce, groupsClaim: "groups",
            allowedEmailDomains: ["msp.test"], now: now
        )
    }

    enum Signer { case rsa, otherRSA, es256, ed25519, hs256PublicKey, none }

    static func token(_ claims: [String: Any], alg: String, kid: String?, signer: Signer) -> String {
        var header: [String: Any] = ["alg": alg, "typ": "JWT"]
        if let kid { header["kid"] = kid }
        let input =
            Base64URL.encode(try! JSONSerialization.data(withJSONObject: header)) + "."
            + Base64URL.encode(try! JSONSerialization.data(withJSONObject: claims))
        let data = Data(input.utf8)
        let signature: Data =
            switch signer {
            case .rsa: try! rsa.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation
            case .otherRSA: try! otherRSA.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation
            case .es256: try! p256.signature(for: data).rawRepresentation
            case .ed25519: try! ed25519.signature(for: data)
            case .hs256PublicKey:
                // The classic confusion: the public key's PEM used as an HMAC secret.
                Data(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: Data(rsa.publicKey.pemRepresentation.utf8))))
            case .none: Data()
            }
        return input + "." + Base64URL.encode(signature)
    }

    static func with(_ changes: [String: Any?]) -> [String: Any] {
        var claims = claims
        for (key, value) in changes { claims[key] = value }
        return claims
    }
}

@Suite("ID token validation")
struct IDTokenValidatorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var token: @Sendable () -> String
        var refusal: SignInError?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "RS256 signed by the provider", token: { TestTokens.token(TestTokens.claims, alg: "RS256", kid: "rsa-1", signer: .rsa) }),
        Case(name: "ES256 signed by the provider", token: { TestTokens.token(TestTokens.claims, alg: "ES256", kid: "ec-1", signer: .es256) }),
        Case(name: "EdDSA signed by the provider", token: { TestTokens.token(TestTokens.claims, alg: "EdDSA", kid: "ed-1", signer: .ed25519) }),
        Case(
            name: "expired 30 s ago (within the leeway)",
            token: { TestTokens.token(TestTokens.with(["exp": TestTokens.now.timeIntervalSince1970 - 30]), alg: "RS256", kid: "rsa-1", signer: .rsa) }
        ),
        Case(
            name: "expired 61 s ago",
            token: { TestTokens.token(TestTokens.with(["exp": TestTokens.now.timeIntervalSince1970 - 61]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it expired")
        ),
        Case(
            name: "issued 2 minutes in the future",
            token: { TestTokens.token(TestTokens.with(["iat": TestTokens.now.timeIntervalSince1970 + 120]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it was issued in the future")
        ),
        Case(
            name: "no expiry",
            token: { TestTokens.token(TestTokens.with(["exp": nil]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it has no expiry")
        ),
        Case(
            name: "another audience",
            token: { TestTokens.token(TestTokens.with(["aud": "other-client"]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it was issued for another client")
        ),
        Case(
            name: "several audiences without azp",
            token: { TestTokens.token(TestTokens.with(["aud": ["charter", "other-client"]]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it was issued for another client (azp)")
        ),
        Case(
            name: "several audiences, azp naming Charter",
            token: { TestTokens.token(TestTokens.with(["aud": ["charter", "other-client"], "azp": "charter"]), alg: "RS256", kid: "rsa-1", signer: .rsa) }
        ),
        Case(
            name: "azp naming another client",
            token: { TestTokens.token(TestTokens.with(["azp": "other-client"]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it was issued for another client (azp)")
        ),
        Case(
            name: "another issuer (mix-up)",
            token: { TestTokens.token(TestTokens.with(["iss": "https://evil.test"]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it was issued by another issuer than the MSP's provider")
        ),
        Case(
            name: "another sign-in's nonce",
            token: { TestTokens.token(TestTokens.with(["nonce": "another-nonce-0123456789"]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("its nonce is not the one of this sign-in")
        ),
        Case(
            name: "no nonce",
            token: { TestTokens.token(TestTokens.with(["nonce": nil]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("its nonce is not the one of this sign-in")
        ),
        Case(
            name: "alg none",
            token: { TestTokens.token(TestTokens.claims, alg: "none", kid: "rsa-1", signer: .none) },
            refusal: .invalidToken("it is signed with none, not RS256, ES256 or EdDSA")
        ),
        Case(
            name: "HS256 with the public key as the secret",
            token: { TestTokens.token(TestTokens.claims, alg: "HS256", kid: "rsa-1", signer: .hs256PublicKey) },
            refusal: .invalidToken("it is signed with HS256, not RS256, ES256 or EdDSA")
        ),
        Case(
            name: "RS512 (not accepted)",
            token: { TestTokens.token(TestTokens.claims, alg: "RS512", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("it is signed with RS512, not RS256, ES256 or EdDSA")
        ),
        Case(
            name: "unknown kid",
            token: { TestTokens.token(TestTokens.claims, alg: "RS256", kid: "rotated-2", signer: .rsa) },
            refusal: .unknownKey
        ),
        Case(
            name: "RS256 header naming the EC key",
            token: { TestTokens.token(TestTokens.claims, alg: "RS256", kid: "ec-1", signer: .rsa) },
            refusal: .unknownKey
        ),
        Case(
            name: "signed by another key under the provider's kid",
            token: { TestTokens.token(TestTokens.claims, alg: "RS256", kid: "rsa-1", signer: .otherRSA) },
            refusal: .invalidToken("the signature does not verify")
        ),
        Case(
            name: "payload changed after signing",
            token: {
                let parts = TestTokens.token(TestTokens.claims, alg: "ES256", kid: "ec-1", signer: .es256).split(separator: ".")
                let forged = Base64URL.encode(try! JSONSerialization.data(withJSONObject: TestTokens.with(["sub": "admin"])))
                return "\(parts[0]).\(forged).\(parts[2])"
            },
            refusal: .invalidToken("the signature does not verify")
        ),
        Case(
            name: "not a JWT",
            token: { "not-a-token" },
            refusal: .invalidToken("it is not a signed JWT in compact form")
        ),
        Case(
            name: "email in a domain not allowed",
            token: { TestTokens.token(TestTokens.with(["email": "carol@other.test"]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .emailNotAllowed("The email domain other.test is not one of the MSP's allowed domains.")
        ),
        Case(
            name: "email in a subdomain of an allowed domain",
            token: { TestTokens.token(TestTokens.with(["email": "eve@evil.msp.test"]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .emailNotAllowed("The email domain evil.msp.test is not one of the MSP's allowed domains.")
        ),
        Case(
            name: "email the provider did not verify",
            token: { TestTokens.token(TestTokens.with(["email_verified": false]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .emailNotAllowed("The identity provider has not verified this person's email address.")
        ),
        Case(
            name: "no email",
            token: { TestTokens.token(TestTokens.with(["email": nil]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .emailNotAllowed("The ID token has no email address; the MSP admits people by their email domain.")
        ),
        Case(
            name: "groups claim a number",
            token: { TestTokens.token(TestTokens.with(["groups": 7]), alg: "RS256", kid: "rsa-1", signer: .rsa) },
            refusal: .invalidToken("the groups claim is not a string or an array of strings")
        ),
    ]

    @Test("an ID token is accepted only when signature and claims hold", arguments: cases)
    func validation(_ example: Case) async {
        do {
            let identity = try await IDTokenValidator.validate(
                example.token(), jwks: TestTokens.jwks, expecting: TestTokens.expectations
            )
            #expect(example.refusal == nil, "accepted, expected \(String(describing: example.refusal))")
            #expect(identity.subject == "248289761001" && identity.issuer == TestTokens.issuer)
        } catch {
            #expect(error == example.refusal)
        }
    }

    @Test("the groups claim may be one string or an array, and is read from the configured claim")
    func groups() async throws {
        var expectations = TestTokens.expectations
        let single = TestTokens.token(TestTokens.with(["groups": "charter-admins"]), alg: "RS256", kid: "rsa-1", signer: .rsa)
        #expect(try await IDTokenValidator.validate(single, jwks: TestTokens.jwks, expecting: expectations).groups == ["charter-admins"])
        expectations.groupsClaim = "roles"
        let roles = TestTokens.token(TestTokens.with(["roles": ["Charter.Owner"]]), alg: "ES256", kid: "ec-1", signer: .es256)
        let identity = try await IDTokenValidator.validate(roles, jwks: TestTokens.jwks, expecting: expectations)
        #expect(identity.groups == ["Charter.Owner"])
        #expect(identity.email == "alice@msp.test" && identity.name == "Alice")
    }
}

@Suite("Sign-in rules")
struct SignInRulesTests {
    @Test(
        "return_to is a path on this service, anything else is /",
        arguments: [
            ("/tenants/1?tab=requests", "/tenants/1?tab=requests"), ("/", "/"), (nil, "/"), ("", "/"),
            ("https://evil.test/", "/"), ("//evil.test/", "/"), ("/\\evil.test", "/"), ("/a\\b", "/"),
            ("javascript:alert(1)", "/"), ("/a\nSet-Cookie: x", "/"), ("/a b", "/"),
            ("/" + String(repeating: "a", count: 2000), "/"),
        ] as [(String?, String)]
    )
    func returnTo(_ given: String?, _ expected: String) {
        #expect(SignInService.safeReturnTo(given) == expected)
    }

    @Test("the PKCE challenge is the RFC 7636 appendix B value")
    func challenge() {
        #expect(
            SignInService.challenge(for: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
                == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        )
    }

    static let drafts: [(String, IdentityProviderDraft, Bool, String?)] = [
        ("https issuer", draft(), false, nil),
        ("http issuer", draft(issuer: "http://login.msp.test"), false, "/issuer"),
        ("http loopback issuer when allowed", draft(issuer: "http://127.0.0.1:8081/api/oidc"), true, nil),
        ("http issuer elsewhere when loopback is allowed", draft(issuer: "http://login.msp.test"), true, "/issuer"),
        ("issuer with a query", draft(issuer: "https://login.msp.test/?tenant=1"), false, "/issuer"),
        ("relative issuer", draft(issuer: "login.msp.test"), false, "/issuer"),
        ("empty client id", draft(clientID: ""), false, "/client_id"),
        ("no domains", draft(domains: []), false, "/allowed_email_domains"),
        ("a domain with a wildcard", draft(domains: ["msp.test", "*.msp.test"]), false, "/allowed_email_domains/1"),
        ("a single-label domain", draft(domains: ["localhost"]), false, "/allowed_email_domains/0"),
        ("a groups claim with a space", draft(groupsClaim: "my groups"), false, "/groups_claim"),
        ("a namespaced groups claim", draft(groupsClaim: "https://msp.test/groups"), false, nil),
        ("a client secret with a control character", draft(secret: "a\u{0}b"), false, "/client_secret"),
    ]

    static func draft(
        issuer: String = "https://login.msp.test/realms/msp", clientID: String = "charter", secret: String? = "s3cret",
        domains: [String] = ["MSP.test"], groupsClaim: String = "groups"
    ) -> IdentityProviderDraft {
        IdentityProviderDraft(
            issuer: issuer, clientID: clientID, clientSecret: secret, allowedEmailDomains: domains, groupsClaim: groupsClaim
        )
    }

    @Test("a provider's configuration is checked field by field", arguments: drafts)
    func providerRules(_ name: String, _ draft: IdentityProviderDraft, _ allowsLoopback: Bool, _ field: String?) {
        do {
            let checked = try IdentityProviderRules.check(draft, allowsInsecureLoopback: allowsLoopback)
            #expect(field == nil, "\(name): accepted")
            #expect(checked.allowedEmailDomains.allSatisfy { $0 == $0.lowercased() })
        } catch {
            if case .invalid(_, let refused) = error { #expect(refused == field, "\(name)") } else {
                Issue.record("\(name): \(error)")
            }
        }
    }
}
