import CharterBundle
import CharterServices
import Foundation
import Synchronization
import Testing

/// A provider's answers, scripted: the relying party's transport in these tests of its caching and choices
/// (the HTTP transport itself is exercised against the real provider in CharterServerTests.SignInFlowTests).
final class ScriptedProvider: OpenIDTransport {
    struct State: Sendable {
        var discovery: Data
        var jwks: Data
        var fetches: [String] = []
        var posts: [(url: String, fields: [String: String], basic: String?)] = []
    }

    let state: Mutex<State>

    init(discovery: [String: Any], jwks: Data) {
        state = Mutex(State(discovery: try! JSONSerialization.data(withJSONObject: discovery), jwks: jwks))
    }

    func get(_ url: String, bearer: String?) async throws -> OpenIDResponse {
        state.withLock { state in
            state.fetches.append(url)
            if url.hasSuffix("/.well-known/openid-configuration") {
                return OpenIDResponse(status: 200, body: state.discovery)
            }
            return OpenIDResponse(status: 200, body: state.jwks)
        }
    }

    func postForm(_ url: String, fields: [(String, String)], basic: (user: String, password: String)?) async throws
        -> OpenIDResponse
    {
        state.withLock { state in
            state.posts.append((url, Dictionary(uniqueKeysWithValues: fields), basic.map { "\($0.user):\($0.password)" }))
        }
        return OpenIDResponse(status: 400, body: Data(#"{"error":"invalid_grant"}"#.utf8))
    }

    var fetches: [String] { state.withLock { $0.fetches } }
}

@Suite("OpenID Connect relying party")
struct OpenIDRelyingPartyTests {
    static var discovery: [String: Any] {
        [
        "issuer": TestTokens.issuer, "authorization_endpoint": "https://login.msp.test/auth",
        "token_endpoint": "https://login.msp.test/token", "jwks_uri": "https://login.msp.test/jwks",
        "code_challenge_methods_supported": ["S256"],
        ]
    }

    final class Clock: Sendable {
        let now = Mutex(TestTokens.now)
        func advance(_ seconds: TimeInterval) { now.withLock { $0 += seconds } }
        var read: @Sendable () -> Date { { self.now.withLock { $0 } } }
    }

    @Test("discovery is cached; an unknown kid fetches the JWKS again, at most once a minute")
    func keyRotation() async throws {
        let provider = ScriptedProvider(discovery: Self.discovery, jwks: Data(#"{"keys":[]}"#.utf8))
        let clock = Clock()
        let party = OpenIDRelyingParty(transport: provider, allowsInsecureLoopback: false, now: clock.read)
        let metadata = try await party.metadata(of: TestTokens.issuer)
        _ = try await party.metadata(of: TestTokens.issuer)
        #expect(provider.fetches == ["https://login.msp.test/realm/.well-known/openid-configuration"])

        let token = TestTokens.token(TestTokens.claims, alg: "RS256", kid: "rsa-1", signer: .rsa)
        // The provider has not published the key yet: one fetch, then a refusal.
        await #expect(throws: SignInError.unknownKey) {
            try await party.validate(token, expecting: TestTokens.expectations, metadata: metadata)
        }
        #expect(provider.fetches.count == 2)
        // It publishes the key (rotation); within the minute no token makes Charter fetch again.
        provider.state.withLock { $0.jwks = TestTokens.jwks }
        clock.advance(30)
        await #expect(throws: SignInError.unknownKey) {
            try await party.validate(token, expecting: TestTokens.expectations, metadata: metadata)
        }
        #expect(provider.fetches.count == 2)
        // After the minute the unknown kid fetches the new set once, and the token is accepted.
        clock.advance(31)
        var expectations = TestTokens.expectations
        expectations.now = clock.read()
        let identity = try await party.validate(token, expecting: expectations, metadata: metadata)
        #expect(identity.subject == "248289761001")
        #expect(provider.fetches.count == 3)
        _ = try await party.validate(token, expecting: expectations, metadata: metadata)
        #expect(provider.fetches.count == 3)
    }

    @Test(
        "a discovery document is refused when it names another issuer or cannot be used",
        arguments: ["another issuer (mix-up)", "an http token endpoint", "no PKCE S256", "no client secret method", "no jwks_uri"]
    )
    func unusableDiscovery(_ name: String) async {
        var document = Self.discovery
        switch name {
        case "another issuer (mix-up)": document["issuer"] = "https://evil.test"
        case "an http token endpoint": document["token_endpoint"] = "http://login.msp.test/token"
        case "no PKCE S256": document["code_challenge_methods_supported"] = ["plain"]
        case "no client secret method": document["token_endpoint_auth_methods_supported"] = ["private_key_jwt"]
        default: document["jwks_uri"] = nil
        }
        let party = OpenIDRelyingParty(
            transport: ScriptedProvider(discovery: document, jwks: TestTokens.jwks), allowsInsecureLoopback: true
        )
        do {
            _ = try await party.metadata(of: TestTokens.issuer)
            Issue.record("\(name): accepted")
        } catch {
            if case .providerUnavailable = error {} else { Issue.record("\(name): \(error)") }
        }
    }

    @Test("the client secret goes by HTTP Basic (form-encoded) unless the provider takes only client_secret_post")
    func clientAuthentication() async throws {
        for (methods, postsSecret) in [(["client_secret_basic", "client_secret_post"], false), (["client_secret_post"], true)] {
            var document = Self.discovery
            document["token_endpoint_auth_methods_supported"] = methods
            let provider = ScriptedProvider(discovery: document, jwks: TestTokens.jwks)
            let party = OpenIDRelyingParty(transport: provider, allowsInsecureLoopback: false)
            let metadata = try await party.metadata(of: TestTokens.issuer)
            await #expect(throws: SignInError.codeRefused) {
                try await party.exchange(
                    code: "c0de", verifier: "v", redirectURI: "https://charter.test/v1/auth/callback",
                    clientID: "charter app", clientSecret: "s:cret/+", metadata: metadata
                )
            }
            let post = try #require(provider.state.withLock { $0.posts.first })
            #expect(post.fields["grant_type"] == "authorization_code" && post.fields["code_verifier"] == "v")
            if postsSecret {
                #expect(post.basic == nil && post.fields["client_secret"] == "s:cret/+")
            } else {
                #expect(post.basic == "charter%20app:s%3Acret%2F%2B" && post.fields["client_secret"] == nil)
            }
        }
    }
}
