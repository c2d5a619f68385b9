import AsyncHTTPClient
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

/// The recorder the sign-in routes hand over to in these tests: it records who signed in and opens a made-up
/// session. (The real one, people and sessions, is tested with these routes end to end after the merge.)
actor RecordingSignInRecorder: SignInRecorder {
    private(set) var identities: [(VerifiedIdentity, MSPID)] = []

    func signIn(_ identity: VerifiedIdentity, msp: MSPID, client: ClientInfo, logger: Logger) async throws
        -> OpenedSession
    {
        identities.append((identity, msp))
        let id = SessionID(UUID())
        return OpenedSession(
            id: id, personID: PersonID(UUID()), credential: "chss_\(id)_test", csrfToken: "csrf-\(id)",
            expiresAt: Date().addingTimeInterval(3600)
        )
    }
}

/// A browser at the test provider (glewlwyd, `scripts/oidc-provider`; its env file exported): signs a user in
/// with the provider's login API and follows the authorization request to the redirect back to Charter.
struct ProviderBrowser: Sendable {
    static let publicURL = "http://charter.test"
    static var issuer: String { TestEnvironment.required("CHARTER_TEST_OIDC_ISSUER") }
    static var clientID: String { TestEnvironment.required("CHARTER_TEST_OIDC_CLIENT_ID") }
    static var clientSecret: String { TestEnvironment.required("CHARTER_TEST_OIDC_CLIENT_SECRET") }
    static var password: String { TestEnvironment.required("CHARTER_TEST_OIDC_PASSWORD") }
    static var adminURL: String { TestEnvironment.required("CHARTER_TEST_OIDC_ADMIN_URL") }
    static var adminKey: String { TestEnvironment.required("CHARTER_TEST_OIDC_ADMIN_API_KEY") }

    /// Registers a client at the provider redirecting to Charter's callback, unless it is already.
    ///
    /// glewlwyd refuses the client's credentials while it is being rewritten, so a client that is already as
    /// wanted is left alone (and the suite runs its tests one after another).
    static func register(client: String, secret: String) async throws {
        var get = HTTPClientRequest(url: "\(adminURL)/client/\(client)")
        get.headers.add(name: "Authorization", value: "token \(adminKey)")
        let (current, stored) = try await sendReading(get)
        if current.status == .ok, stored.contains("\"\(publicURL)/v1/auth/callback\"") { return }
        let body = """
            {"client_id":"\(client)","name":"\(client)","description":"sign-in tests","scope":[],"enabled":true,
             "confidential":true,"password":"\(secret)","authorization_type":["code","refresh_token"],
             "token_endpoint_auth_method":["client_secret_basic","client_secret_post"],
             "redirect_uri":["\(publicURL)/v1/auth/callback"]}
            """
        var put = HTTPClientRequest(url: "\(adminURL)/client/\(client)")
        put.method = .PUT
        put.headers.add(name: "Authorization", value: "token \(adminKey)")
        put.headers.add(name: "Content-Type", value: "application/json")
        put.body = .bytes(ByteBuffer(string: body))
        if try await send(put).status == .notFound {
            put.url = "\(adminURL)/client/"
            put.method = .POST
            let created = try await send(put)
            #expect(created.status == .ok, "registering \(client) at the provider")
        }
    }

    /// Signs `user` in at the provider and follows `authorizationURL`: the callback URL (path and query) the
    /// provider redirects the browser to.
    static func signIn(at authorizationURL: String, as user: String, password: String = password) async throws -> String {
        var login = HTTPClientRequest(url: "\(adminURL)/auth/")
        login.method = .POST
        login.headers.add(name: "Content-Type", value: "application/json")
        login.body = .bytes(ByteBuffer(string: #"{"username":"\#(user)","password":"\#(password)"}"#))
        let loggedIn = try await send(login)
        let cookie = try #require(loggedIn.headers["Set-Cookie"].first?.split(separator: ";").first.map(String.init))
        // glewlwyd's login page appends g_continue once the user is signed in and the client's scopes granted.
        var authorize = HTTPClientRequest(url: authorizationURL + "&g_continue")
        authorize.headers.add(name: "Cookie", value: cookie)
        let redirect = try await send(authorize)
        let location = try #require(redirect.headers["Location"].first, "the provider did not redirect: \(redirect.status)")
        #expect(location.hasPrefix(publicURL + "/v1/auth/callback?") && location.contains("code="), "\(location)")
        return String(location.dropFirst(publicURL.count))
    }

    private static func send(_ request: HTTPClientRequest) async throws -> HTTPClientResponse {
        try await sendReading(request).response
    }

    private static func sendReading(_ request: HTTPClientRequest) async throws -> (response: HTTPClientResponse, body: String) {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let response = try await client.execute(request, timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            try await client.shutdown()
            return (response, String(buffer: body))
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

@Suite("Sign-in with the MSP's identity provider", .serialized)
struct SignInFlowTests {
    struct Setup: Sendable {
        var world: TestApp.World
        var recorder: RecordingSignInRecorder
        var config: ServerConfiguration
    }

    /// An MSP whose provider is the test provider, and a service that signs into it.
    static func prepare(domains: [String] = ["msp.test"]) async throws -> Setup {
        try await ProviderBrowser.register(client: ProviderBrowser.clientID, secret: ProviderBrowser.clientSecret)
        var config = TestApp.sealingConfig
        config.publicURL = ProviderBrowser.publicURL
        config.identityAllowsInsecureHTTP = true
        let world = try await TestApp.makeWorld(tenants: 0)
        let recorder = RecordingSignInRecorder()
        let domainList = domains.map { "\"\($0)\"" }.joined(separator: ",")
        try await run(Setup(world: world, recorder: recorder, config: config)) { client in
            let put = try await client.call(
                .put, "/v1/msps/\(world.msp)/identity-provider", key: world.mspKey,
                body: """
                    {"issuer":"\(ProviderBrowser.issuer)","client_id":"\(ProviderBrowser.clientID)",
                     "client_secret":"\(ProviderBrowser.clientSecret)","allowed_email_domains":[\(domainList)]}
                    """
            )
            #expect(put.status == .ok, "\(put.json)")
        }
        return Setup(world: world, recorder: recorder, config: config)
    }

    static func run(_ setup: Setup, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try buildApplication(setup.config, logger: TestApp.logger, signInRecorder: setup.recorder)
        try await app.test(.router, body)
    }

    /// `GET /v1/auth/sign-in`: the provider's URL and the `charter_sign_in` cookie.
    static func start(_ client: some TestClientProtocol, msp: MSPID, returnTo: String = "/tenants") async throws
        -> (location: String, cookie: String)
    {
        try await client.execute(uri: "/v1/auth/sign-in?msp=\(msp)&return_to=\(returnTo)", method: .get) { response in
            #expect(response.status == .found)
            let location = try #require(response.headers[.location])
            let setCookie = try #require(response.headers[.setCookie])
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Lax") && setCookie.contains("Path=/v1/auth"))
            let cookie = try #require(setCookie.split(separator: ";").first.map(String.init))
            #expect(cookie.hasPrefix("charter_sign_in="))
            return (location, cookie)
        }
    }

    static func callback(_ client: some TestClientProtocol, _ uri: String, cookie: String?) async throws -> Answer {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        return try await client.call(.get, uri, headers: headers)
    }

    static func attempts(of msp: MSPID) async throws -> Int {
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in try await tx.identityProviders.attemptCount(msp) }
        }
    }

    @Test("a person signs in: 302 to the provider, back to the callback, 303 with the session cookies")
    func signIn() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            #expect(location.hasPrefix(ProviderBrowser.issuer + "/auth?"))
            for parameter in ["code_challenge_method=S256", "response_type=code", "state=", "nonce=", "code_challenge="] {
                #expect(location.contains(parameter), "\(parameter)")
            }
            #expect(try await Self.attempts(of: setup.world.msp) == 1)
            let back = try await ProviderBrowser.signIn(at: location, as: "alice")
            try await client.execute(uri: back, method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther, "\(String(buffer: response.body))")
                #expect(response.headers[.location] == "/tenants")
                let cookies = response.headers[values: .setCookie]
                let session = try #require(cookies.first { $0.hasPrefix("charter_session=chss_") })
                #expect(session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/"))
                #expect(!session.contains("Secure"))
                let csrf = try #require(cookies.first { $0.hasPrefix("charter_csrf=csrf-") })
                #expect(!csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"))
                #expect(cookies.contains { $0.hasPrefix("charter_sign_in=;") && $0.contains("Max-Age=0") })
            }
            // The attempt was taken: the same redirect again finds nothing.
            expectProblem(try await Self.callback(client, back, cookie: cookie), 400, field: "state")
        }
        let signedIn = await setup.recorder.identities
        #expect(signedIn.count == 1)
        let (identity, msp) = try #require(signedIn.first)
        #expect(msp == setup.world.msp)
        #expect(identity.issuer == ProviderBrowser.issuer && identity.email == "alice@msp.test")
        #expect(identity.groups.contains("charter-admins"))
        #expect(try await Self.attempts(of: setup.world.msp) == 0)
    }

    @Test("a wrong state, a missing or another browser's cookie are refused and spend nothing")
    func stateAndBrowser() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let (_, otherCookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await ProviderBrowser.signIn(at: location, as: "alice")
            let code = try #require(URLComponents(string: back)?.queryItems?.first { $0.name == "code" }?.value, "\(back)")
            expectProblem(
                try await Self.callback(client, "/v1/auth/callback?code=\(code)&state=forged-state", cookie: cookie), 400,
                field: "state"
            )
            expectProblem(try await Self.callback(client, back, cookie: nil), 403, field: "charter_sign_in")
            expectProblem(try await Self.callback(client, back, cookie: otherCookie), 403, field: "charter_sign_in")
            expectProblem(try await Self.callback(client, "/v1/auth/callback?state=x", cookie: cookie), 400, field: "code")
            #expect(await setup.recorder.identities.isEmpty)
            #expect(try await Self.attempts(of: setup.world.msp) == 2)
            // None of that spent the attempt: its own browser still completes it.
            #expect(try await Self.callback(client, back, cookie: cookie).status == .seeOther)
        }
        #expect(await setup.recorder.identities.count == 1)
    }

    @Test("a replayed code is refused: a new sign-in cannot redeem an old code")
    func replayedCode() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await ProviderBrowser.signIn(at: location, as: "alice")
            let first = try await Self.callback(client, back, cookie: cookie)
            #expect(first.status == .seeOther, "\(first.json)")
            let code = try #require(URLComponents(string: back)?.queryItems?.first { $0.name == "code" }?.value)
            let (second, secondCookie) = try await Self.start(client, msp: setup.world.msp)
            let state = try #require(URLComponents(string: second)?.queryItems?.first { $0.name == "state" }?.value)
            let replay = try await Self.callback(client, "/v1/auth/callback?code=\(code)&state=\(state)", cookie: secondCookie)
            expectProblem(replay, 401, field: "code")
        }
        #expect(await setup.recorder.identities.count == 1)
    }

    @Test("a code issued to another client (another audience) is refused")
    func anotherAudience() async throws {
        let setup = try await Self.prepare()
        try await ProviderBrowser.register(client: "charter-other", secret: "other-secret-0123456789")
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            // The same request, but for the other client: its code and ID token are for `charter-other`.
            let foreign = location.replacingOccurrences(
                of: "client_id=\(ProviderBrowser.clientID)&", with: "client_id=charter-other&"
            )
            let back = try await ProviderBrowser.signIn(at: foreign, as: "alice")
            expectProblem(try await Self.callback(client, back, cookie: cookie), 401, field: "code")
        }
        #expect(await setup.recorder.identities.isEmpty)
    }

    @Test("a person whose email domain is not allowed is refused (403, email)")
    func domainNotAllowed() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await ProviderBrowser.signIn(at: location, as: "carol")
            expectProblem(try await Self.callback(client, back, cookie: cookie), 403, field: "email")
        }
        #expect(await setup.recorder.identities.isEmpty)
    }

    @Test("a client secret copied from another MSP's row does not open: the sign-in fails (503) and stores nothing")
    func secretBoundToMSP() async throws {
        let setup = try await Self.prepare()
        let other = try await Self.prepare()
        try await TestApp.withOwner { database in
            let sealed = try await database.withMSP(other.world.msp, logger: TestApp.logger) { tx in
                try await tx.identityProviders.get(other.world.msp).clientSecretSealed
            }
            try await database.withMSP(setup.world.msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    "UPDATE identity_providers SET client_secret_sealed = \(sealed) WHERE msp_id = \(setup.world.msp.rawValue)"
                )
            }
        }
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await ProviderBrowser.signIn(at: location, as: "alice")
            expectProblem(try await Self.callback(client, back, cookie: cookie), 503)
        }
        #expect(await setup.recorder.identities.isEmpty)
    }

    @Test("sign-in needs an MSP with a provider; return_to never leaves the service; the provider's refusal is named")
    func edges() async throws {
        let setup = try await Self.prepare()
        let bare = try await TestApp.makeWorld(tenants: 0)
        try await Self.run(setup) { client in
            expectProblem(try await client.call(.get, "/v1/auth/sign-in"), 400, field: "msp")
            expectProblem(try await client.call(.get, "/v1/auth/sign-in?msp=nope"), 400, field: "msp")
            expectProblem(try await client.call(.get, "/v1/auth/sign-in?msp=\(bare.msp)"), 404, field: "msp")
            expectProblem(try await client.call(.get, "/v1/auth/sign-in?msp=\(UUID())"), 404, field: "msp")
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp, returnTo: "https://evil.test/x")
            let back = try await ProviderBrowser.signIn(at: location, as: "bob")
            try await client.execute(uri: back, method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/")
            }
            expectProblem(
                try await Self.callback(client, "/v1/auth/callback?error=access_denied&state=x", cookie: cookie), 401,
                field: "error"
            )
        }
        #expect(try await Self.attempts(of: bare.msp) == 0)
    }
}
