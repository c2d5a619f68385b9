import AsyncHTTPClient
import CharterTestSupport
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Testing
import _CryptoExtras

/// The test OpenID Connect provider (scripts/oidc-provider, ``TestIdentityProvider``) has what the sign-in tests
/// rely on: discovery and a JWKS, the code flow with PKCE through a real HTTP client, ID tokens carrying
/// `email`, `name` and `groups` signed with a key of the JWKS, groups that change, a wrong password refused.
@Suite("Test OpenID Connect provider")
struct TestIdentityProviderTests {
    @Test("discovery names the issuer, the endpoints, S256 and a JWKS of RS256 keys")
    func discoveryAndJWKS() async throws {
        let provider = try Self.provider()
        let discovery = try await Self.getJSON("\(provider.issuer)/.well-known/openid-configuration")
        #expect(discovery["issuer"] as? String == provider.issuer)
        #expect((discovery["authorization_endpoint"] as? String)?.hasPrefix(provider.issuer) == true)
        #expect((discovery["token_endpoint"] as? String)?.hasPrefix(provider.issuer) == true)
        #expect((discovery["code_challenge_methods_supported"] as? [String])?.contains("S256") == true)
        #expect(
            (discovery["claims_supported"] as? [String]).map { Set($0) }?.isSuperset(of: ["email", "groups"]) == true)
        let jwksURI = try #require(discovery["jwks_uri"] as? String)
        let jwks = try await Self.getJSON(jwksURI)
        let keys = try #require(jwks["keys"] as? [[String: Any]])
        #expect(!keys.isEmpty)
        for key in keys {
            #expect(key["kty"] as? String == "RSA")
            #expect(key["alg"] as? String == "RS256")
            #expect(key["kid"] is String)
        }
    }

    @Test("a code flow with PKCE signs alice in: her ID token carries email, name and groups, signed by the JWKS")
    func codeFlowForAlice() async throws {
        let provider = try Self.provider()
        let flow = Flow(provider: provider)
        try await provider.allowRedirect(flow.redirectURI)
        let back = try await provider.signIn(at: flow.authorizationURL, as: "alice", password: provider.password)
        let answer = try #require(URLComponents(url: back, resolvingAgainstBaseURL: false))
        #expect("\(answer.scheme ?? "")://\(answer.host ?? ""):\(answer.port ?? 0)\(answer.path)" == flow.redirectURI)
        #expect(answer.queryItems?.first { $0.name == "state" }?.value == flow.state)
        let code = try #require(answer.queryItems?.first { $0.name == "code" }?.value)

        let tokens = try await provider.exchange(code: code, redirectURI: flow.redirectURI, verifier: flow.verifier)
        let idToken = try #require(tokens["id_token"] as? String, "\(tokens)")
        let claims = try Self.payload(of: idToken)
        #expect(claims["iss"] as? String == provider.issuer)
        #expect(claims["aud"] as? String == provider.clientID)
        #expect(claims["nonce"] as? String == flow.nonce)
        #expect(claims["email"] as? String == "alice@msp.test")
        #expect(claims["name"] is String)
        #expect(claims["groups"] as? [String] == ["charter-admins"])
        #expect((claims["sub"] as? String)?.isEmpty == false)
        let checks = try await Self.signatureChecks(idToken, provider: provider)
        #expect(checks)

        // The same token with a payload changed no longer checks: the check above is a real one.
        let parts = idToken.split(separator: ".").map(String.init)
        let forgedClaims = Data(#"{"iss":"\#(provider.issuer)","email":"mallory@msp.test"}"#.utf8)
        let forged = [parts[0], Self.base64URL(forgedClaims), parts[2]].joined(separator: ".")
        let forgedChecks = try await Self.signatureChecks(forged, provider: provider)
        #expect(!forgedChecks)

        // A code is good once: the provider refuses it the second time.
        let replayed = try await provider.exchange(code: code, redirectURI: flow.redirectURI, verifier: flow.verifier)
        #expect(replayed["id_token"] == nil)
        #expect(replayed["error"] is String, "\(replayed)")
    }

    @Test("a code exchanged with another verifier gets no token")
    func wrongVerifier() async throws {
        let provider = try Self.provider()
        let flow = Flow(provider: provider)
        try await provider.allowRedirect(flow.redirectURI)
        let back = try await provider.signIn(at: flow.authorizationURL, as: "bob", password: provider.password)
        let code = try #require(
            URLComponents(url: back, resolvingAgainstBaseURL: false)?.queryItems?.first {
                $0.name == "code"
            }?.value)
        let answer = try await provider.exchange(code: code, redirectURI: flow.redirectURI, verifier: Flow().verifier)
        #expect(answer["id_token"] == nil)
        #expect(answer["error"] is String)
    }

    @Test("setGroups changes the groups of the next ID token; no groups, no groups claim")
    func setGroupsChangesTheNextToken() async throws {
        let provider = try Self.provider()
        let user = "groups-\(UUID().uuidString.prefix(8).lowercased())"
        try await provider.addUser(user, email: "\(user)@msp.test", groups: ["charter-admins"])
        #expect(try await Self.groups(of: user, provider: provider) == ["charter-admins"])

        try await provider.setGroups(["charter-approvers", "tenant-a-approvers"], of: user)
        #expect(try await Self.groups(of: user, provider: provider) == ["charter-approvers", "tenant-a-approvers"])

        try await provider.setGroups([], of: user)
        #expect(try await Self.groups(of: user, provider: provider) == nil)
    }

    @Test("a new signing key: the next ID token names a new kid, and the JWKS keeps the earlier key")
    func rotatedKey() async throws {
        let provider = try Self.provider()
        let before = try await Self.idToken(of: "carol", provider: provider)
        try await provider.rotateSigningKey()
        let after = try await Self.idToken(of: "carol", provider: provider)
        let kidBefore = try Self.object(try #require(before.split(separator: ".").first))["kid"] as? String
        let kidAfter = try Self.object(try #require(after.split(separator: ".").first))["kid"] as? String
        #expect(kidBefore != nil && kidAfter != nil && kidBefore != kidAfter)
        let beforeChecks = try await Self.signatureChecks(before, provider: provider)
        let afterChecks = try await Self.signatureChecks(after, provider: provider)
        #expect(beforeChecks)
        #expect(afterChecks)
    }

    @Test("a wrong password gets no code: the provider refuses the sign-in and sends the browser nowhere")
    func wrongPassword() async throws {
        let provider = try Self.provider()
        let flow = Flow(provider: provider)
        try await provider.allowRedirect(flow.redirectURI)
        await #expect(throws: TestIdentityProvider.Failure.signInRefused(user: "alice", status: 401)) {
            try await provider.signIn(at: flow.authorizationURL, as: "alice", password: provider.password + "x")
        }
    }

    @Test("a redirect URI the client does not have gets no code: the provider answers 403 and redirects nowhere")
    func unknownRedirectURI() async throws {
        let provider = try Self.provider()
        let flow = Flow(provider: provider)
        let error = await #expect(throws: TestIdentityProvider.Failure.self) {
            try await provider.signIn(at: flow.authorizationURL, as: "alice", password: provider.password)
        }
        #expect(
            error?.description.contains("the authorization request: HTTP 403") == true, "\(String(describing: error))")
    }

    @Test("redirect URIs registered at once are all kept")
    func concurrentRedirects() async throws {
        let provider = try Self.provider()
        let flows = (0..<6).map { _ in Flow(provider: provider) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for flow in flows { group.addTask { try await provider.allowRedirect(flow.redirectURI) } }
            try await group.waitForAll()
        }
        for flow in flows {
            let back = try await provider.signIn(at: flow.authorizationURL, as: "carol", password: provider.password)
            #expect(
                URLComponents(url: back, resolvingAgainstBaseURL: false)?.queryItems?.contains { $0.name == "code" }
                    == true)
        }
    }

    // MARK: - Helpers

    /// One authorization request of a code flow with PKCE S256: a redirect URI of the test's own, state, nonce
    /// and verifier.
    struct Flow {
        var redirectURI = "http://127.0.0.1:9/v1/auth/callback/\(UUID().uuidString.lowercased())"
        var state = UUID().uuidString
        var nonce = UUID().uuidString
        var verifier = TestIdentityProviderTests.base64URL(Data((0..<32).map { _ in UInt8.random(in: 0...255) }))
        var authorizationURL = URL(fileURLWithPath: "/")

        init() {}

        init(provider: TestIdentityProvider) {
            let challenge = TestIdentityProviderTests.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
            var components = URLComponents(string: "\(provider.issuer)/auth")!
            components.queryItems = [
                .init(name: "response_type", value: "code"), .init(name: "client_id", value: provider.clientID),
                .init(name: "redirect_uri", value: redirectURI), .init(name: "scope", value: "openid email profile"),
                .init(name: "state", value: state), .init(name: "nonce", value: nonce),
                .init(name: "code_challenge", value: challenge), .init(name: "code_challenge_method", value: "S256"),
            ]
            authorizationURL = components.url!
        }
    }

    static func provider() throws -> TestIdentityProvider {
        try #require(TestIdentityProvider.configured, "CHARTER_TEST_OIDC_* are not set: \(TestIdentityProvider.hint)")
    }

    /// A new ID token of `user`, through the whole flow.
    static func idToken(of user: String, provider: TestIdentityProvider) async throws -> String {
        let flow = Flow(provider: provider)
        try await provider.allowRedirect(flow.redirectURI)
        let back = try await provider.signIn(at: flow.authorizationURL, as: user, password: provider.password)
        let code = try #require(
            URLComponents(url: back, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == "code" }?.value)
        let tokens = try await provider.exchange(code: code, redirectURI: flow.redirectURI, verifier: flow.verifier)
        return try #require(tokens["id_token"] as? String, "\(tokens)")
    }

    /// The `groups` claim of a new ID token of `user` (`nil`: no such claim).
    static func groups(of user: String, provider: TestIdentityProvider) async throws -> [String]? {
        let flow = Flow(provider: provider)
        try await provider.allowRedirect(flow.redirectURI)
        let back = try await provider.signIn(at: flow.authorizationURL, as: user, password: provider.password)
        let code = try #require(
            URLComponents(url: back, resolvingAgainstBaseURL: false)?.queryItems?.first {
                $0.name == "code"
            }?.value)
        let tokens = try await provider.exchange(code: code, redirectURI: flow.redirectURI, verifier: flow.verifier)
        let idToken = try #require(tokens["id_token"] as? String, "\(tokens)")
        let claims = try payload(of: idToken)
        #expect(claims["email"] as? String == "\(user)@msp.test")
        return claims["groups"] as? [String]
    }

    static func getJSON(_ url: String) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        #expect(response.status == .ok, "\(url)")
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: body))
        return try #require(object as? [String: Any])
    }

    /// The JSON object of one base64url part of a JWT.
    static func object(_ part: Substring) throws -> [String: Any] {
        let bytes = try #require(Data(base64URL: String(part)))
        let object = try JSONSerialization.jsonObject(with: bytes)
        return try #require(object as? [String: Any])
    }

    static func payload(of jwt: String) throws -> [String: Any] {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)
        return try object(parts[1])
    }

    /// Whether the RS256 signature of `jwt` checks against the provider's JWKS key named by its `kid`.
    static func signatureChecks(_ jwt: String, provider: TestIdentityProvider) async throws -> Bool {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        try #require(parts.count == 3)
        let header = try object(parts[0])
        #expect(header["alg"] as? String == "RS256")
        let discovery = try await getJSON("\(provider.issuer)/.well-known/openid-configuration")
        let jwksURI = try #require(discovery["jwks_uri"] as? String)
        let jwks = try await getJSON(jwksURI)
        let keys = try #require(jwks["keys"] as? [[String: Any]])
        let jwk = try #require(keys.first { $0["kid"] as? String == header["kid"] as? String })
        let n = try #require((jwk["n"] as? String).flatMap { Data(base64URL: $0) })
        let e = try #require((jwk["e"] as? String).flatMap { Data(base64URL: $0) })
        let key = try _RSA.Signing.PublicKey(n: n, e: e)
        let signatureBytes = try #require(Data(base64URL: String(parts[2])))
        let signature = _RSA.Signing.RSASignature(rawRepresentation: signatureBytes)
        return key.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8), padding: .insecurePKCS1v1_5)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

extension Data {
    fileprivate init?(base64URL: String) {
        var text = base64URL.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        text += String(repeating: "=", count: (4 - text.count % 4) % 4)
        self.init(base64Encoded: text)
    }
}
