import CharterBundle
import CharterJSON
import CharterServices
import Foundation
import Testing

/// What a refresh makes of the token endpoint's and the userinfo endpoint's answers (pure; the flow against the
/// real provider is CharterServerTests.SessionRefreshTests).
@Suite("Session refresh answers")
struct SessionRefreshAnswerTests {
    enum Expected: Sendable, Equatable {
        case tokens(idToken: Bool, accessToken: Bool, refreshToken: Bool)
        case refused(String)
        case unavailable
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var status: Int
        var body: String
        var expected: Expected
        var testDescription: String { name }
    }

    @Test(
        "the token endpoint's answer to a refresh token: tokens, the provider's refusal, or the provider unusable",
        arguments: [
            Row(name: "an ID token and a rotated refresh token", status: 200,
                body: #"{"id_token":"h.p.s","access_token":"a","refresh_token":"r2","token_type":"Bearer"}"#,
                expected: .tokens(idToken: true, accessToken: true, refreshToken: true)),
            Row(name: "an access token only (glewlwyd)", status: 200,
                body: #"{"access_token":"a","token_type":"bearer","expires_in":3600}"#,
                expected: .tokens(idToken: false, accessToken: true, refreshToken: false)),
            Row(name: "an empty refresh token is no rotation", status: 200,
                body: #"{"access_token":"a","refresh_token":""}"#,
                expected: .tokens(idToken: false, accessToken: true, refreshToken: false)),
            Row(name: "an oversized refresh token is not kept", status: 200,
                body: #"{"access_token":"a","refresh_token":"\#(String(repeating: "r", count: 8193))"}"#,
                expected: .tokens(idToken: false, accessToken: true, refreshToken: false)),
            Row(name: "200 with neither token", status: 200, body: #"{"token_type":"Bearer"}"#, expected: .unavailable),
            Row(name: "200 that is not JSON", status: 200, body: "<html>", expected: .unavailable),
            Row(name: "200 carrying an error", status: 200, body: #"{"error":"invalid_grant"}"#, expected: .unavailable),
            Row(name: "invalid_grant", status: 400, body: #"{"error":"invalid_grant"}"#,
                expected: .refused("invalid_grant")),
            Row(name: "a 400 without a body (glewlwyd, a revoked token)", status: 400, body: "",
                expected: .refused("no error code")),
            Row(name: "an error code is cleaned before it is shown", status: 400,
                body: #"{"error":"Invalid_Grant<script>"}"#, expected: .refused("nvalid_rantscript")),
            Row(name: "Charter's client credentials refused: the MSP's setup, not the person", status: 401,
                body: #"{"error":"invalid_client"}"#, expected: .unavailable),
            Row(name: "unauthorized_client", status: 400, body: #"{"error":"unauthorized_client"}"#,
                expected: .unavailable),
            Row(name: "a server error", status: 500, body: #"{"error":"server_error"}"#, expected: .unavailable),
            Row(name: "a gateway's 502", status: 502, body: "bad gateway", expected: .unavailable),
            Row(name: "a 403 from something in front of the provider", status: 403, body: "", expected: .unavailable),
        ]
    )
    func tokenAnswer(_ row: Row) {
        let got: Expected
        do {
            switch try RefreshAnswer(status: row.status, body: Data(row.body.utf8)) {
            case .tokens(let idToken, let accessToken, let refreshToken):
                got = .tokens(idToken: idToken != nil, accessToken: accessToken != nil, refreshToken: refreshToken != nil)
            case .refused(let code):
                got = .refused(code)
            }
        } catch {
            guard case .providerUnavailable = error else {
                Issue.record("\(row.name): \(error)")
                return
            }
            got = .unavailable
        }
        #expect(got == row.expected, "\(row.name)")
    }

    struct UserInfoRow: Sendable, CustomTestStringConvertible {
        var name: String
        var claims: [String: JSONValue]
        /// The groups read, or `nil` when the answer is refused.
        var groups: [String]?
        var testDescription: String { name }
    }

    static let person = "248289761001"

    @Test(
        "the userinfo answer must name the session's person, with an allowed email, as an ID token must",
        arguments: [
            UserInfoRow(name: "the person, with groups",
                        claims: ["sub": .string(person), "email": .string("a@msp.test"),
                                 "groups": .array([.string("charter-admins")])],
                        groups: ["charter-admins"]),
            UserInfoRow(name: "the person, without groups any more",
                        claims: ["sub": .string(person), "email": .string("a@msp.test")], groups: []),
            UserInfoRow(name: "another person (a swapped answer)",
                        claims: ["sub": .string("someone-else"), "email": .string("a@msp.test")], groups: nil),
            UserInfoRow(name: "no subject", claims: ["email": .string("a@msp.test")], groups: nil),
            UserInfoRow(name: "an email domain not allowed",
                        claims: ["sub": .string(person), "email": .string("a@evil.test")], groups: nil),
            UserInfoRow(name: "an unverified email",
                        claims: ["sub": .string(person), "email": .string("a@msp.test"), "email_verified": .bool(false)],
                        groups: nil),
            UserInfoRow(name: "no email", claims: ["sub": .string(person)], groups: nil),
            UserInfoRow(name: "a groups claim that is not strings",
                        claims: ["sub": .string(person), "email": .string("a@msp.test"), "groups": .array([.integer(1)])],
                        groups: nil),
        ]
    )
    func userInfo(_ row: UserInfoRow) {
        var expecting = IDTokenExpectations(
            issuer: "https://login.msp.test/realm", clientID: "charter", nonce: nil, groupsClaim: "groups",
            allowedEmailDomains: ["msp.test"], now: Date(timeIntervalSince1970: 1_800_000_000)
        )
        expecting.subject = Self.person
        let identity = try? IDTokenValidator.checkUserInfo(row.claims, expecting: expecting)
        #expect(identity?.groups == row.groups, "\(row.name)")
        if let identity { #expect(identity.subject == Self.person) }
    }

    @Test("without a session's person to compare with, no userinfo answer is accepted")
    func userInfoWithoutSubject() {
        let expecting = IDTokenExpectations(
            issuer: "https://login.msp.test/realm", clientID: "charter", nonce: nil, groupsClaim: "groups",
            allowedEmailDomains: ["msp.test"], now: Date(timeIntervalSince1970: 1_800_000_000)
        )
        let claims: [String: JSONValue] = ["sub": .string(Self.person), "email": .string("a@msp.test")]
        #expect(throws: SignInError.self) { try IDTokenValidator.checkUserInfo(claims, expecting: expecting) }
    }
}

@Suite("Refreshed ID token validation")
struct RefreshedIDTokenTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var changes: [String: String?]
        var refusal: SignInError?
        var testDescription: String { name }
    }

    @Test(
        "a refreshed ID token is validated as at sign-in, names the session's person, and needs no nonce",
        arguments: [
            Row(name: "the same person, no nonce", changes: ["nonce": nil]),
            Row(name: "the same person, the sign-in's nonce repeated", changes: [:]),
            Row(name: "another person", changes: ["sub": "someone-else"],
                refusal: .invalidToken("it names another person than the session's")),
            Row(name: "another issuer", changes: ["iss": "https://evil.test"],
                refusal: .invalidToken("it was issued by another issuer than the MSP's provider")),
            Row(name: "another audience", changes: ["aud": "not-charter"],
                refusal: .invalidToken("it was issued for another client")),
            Row(name: "an email domain not allowed", changes: ["email": "alice@evil.test"],
                refusal: .emailNotAllowed("The email domain evil.test is not one of the MSP's allowed domains.")),
        ]
    )
    func refreshed(_ row: Row) async {
        var claims = TestTokens.claims
        for (key, value) in row.changes { claims[key] = value }
        let token = TestTokens.token(claims, alg: "RS256", kid: "rsa-1", signer: .rsa)
        var expecting = TestTokens.expectations
        expecting.nonce = nil
        expecting.subject = "248289761001"
        do {
            let identity = try await IDTokenValidator.validate(token, jwks: TestTokens.jwks, expecting: expecting)
            #expect(row.refusal == nil, "\(row.name): accepted")
            #expect(identity.groups == ["charter-admins", "tenant-a"])
        } catch {
            #expect(error == row.refusal, "\(row.name)")
        }
    }

    @Test("a refreshed ID token whose payload was altered does not verify")
    func altered() async {
        let token = TestTokens.token(TestTokens.claims, alg: "RS256", kid: "rsa-1", signer: .rsa)
        let parts = token.split(separator: ".").map(String.init)
        var claims = TestTokens.claims
        claims["groups"] = ["charter-admins", "charter-owners"]
        let payload = Base64URL.encode(try! JSONSerialization.data(withJSONObject: claims))
        var expecting = TestTokens.expectations
        expecting.nonce = nil
        expecting.subject = "248289761001"
        await #expect(throws: SignInError.invalidToken("the signature does not verify")) {
            try await IDTokenValidator.validate(
                [parts[0], payload, parts[2]].joined(separator: "."), jwks: TestTokens.jwks, expecting: expecting
            )
        }
    }
}
