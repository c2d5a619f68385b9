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

/// The test provider (glewlwyd, `scripts/oidc-provider`, started by scripts/test) as these tests use it: the
/// service's public URL is `http://charter.test`, whose callback the provider's client allows.
enum Provider {
    static let publicURL = "http://charter.test"
    static var callback: String { publicURL + "/v1/auth/callback" }

    static func configured() throws -> TestIdentityProvider {
        try #require(TestIdentityProvider.configured, "\(TestIdentityProvider.hint)")
    }

    /// Signs `user` in at the provider, following `authorizationURL`: the callback's path and query the provider
    /// sends the browser back to.
    static func signIn(at authorizationURL: String, as user: String) async throws -> String {
        let provider = try configured()
        let back = try await provider.signIn(
            at: try #require(URL(string: authorizationURL)), as: user, password: provider.password
        )
        let text = back.absoluteString
        #expect(text.hasPrefix(callback + "?"), "\(text)")
        return String(text.dropFirst(publicURL.count))
    }
}

@Suite("Sign-in with the MSP's identity provider", .serialized)
struct SignInFlowTests {
    struct Setup: Sendable {
        var world: TestApp.World
        var config: ServerConfiguration
    }

    /// An MSP of one tenant whose provider is the test provider, with the role mapping `charter-admins → admin`
    /// on the MSP, and a service that signs into it.
    static func prepare(domains: [String] = ["msp.test"]) async throws -> Setup {
        let provider = try Provider.configured()
        try await provider.allowRedirect(Provider.callback)
        var config = TestApp.sealingConfig
        config.publicURL = Provider.publicURL
        config.identityAllowsInsecureHTTP = true
        let world = try await TestApp.makeWorld(tenants: 1)
        let domainList = domains.map { "\"\($0)\"" }.joined(separator: ",")
        let setup = Setup(world: world, config: config)
        try await run(setup) { client in
            let put = try await client.call(
                .put, "/v1/msps/\(world.msp)/identity-provider", key: world.mspKey,
                body: """
                    {"issuer":"\(provider.issuer)","client_id":"\(provider.clientID)",
                     "client_secret":"\(provider.clientSecret)","allowed_email_domains":[\(domainList)]}
                    """
            )
            #expect(put.status == .ok, "\(put.json)")
            let mapping = #"{"claim_value":"charter-admins","role":"admin"}"#
            let created = try await client.call(.post, "/v1/msps/\(world.msp)/role-mappings", key: world.mspKey, body: mapping)
            #expect(created.status == .created, "\(created.json)")
        }
        return setup
    }

    static func run(_ setup: Setup, _ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = try buildApplication(setup.config, logger: TestApp.logger)
        try await app.test(.router, body)
    }

    /// The people of `msp` as the owner's key lists them.
    static func people(_ client: some TestClientProtocol, _ setup: Setup) async throws -> [[String: Any]] {
        let listed = try await client.call(.get, "/v1/msps/\(setup.world.msp)/people", key: setup.world.mspKey)
        #expect(listed.status == .ok)
        return listed.json["items"] as? [[String: Any]] ?? []
    }

    /// Signs `user` in through the whole flow: the session's `Cookie` header (session and CSRF cookies) and the
    /// CSRF token, or the callback's answer when it was not a 303.
    static func signIn(_ client: some TestClientProtocol, _ setup: Setup, as user: String) async throws
        -> Result<(cookie: String, csrf: String), AnswerFailure>
    {
        let (location, cookie) = try await start(client, msp: setup.world.msp)
        let back = try await Provider.signIn(at: location, as: user)
        let answer = try await callback(client, back, cookie: cookie)
        guard answer.status == .seeOther else { return .failure(AnswerFailure(answer: answer)) }
        let pairs = answer.headers[values: .setCookie].compactMap { $0.split(separator: ";").first.map(String.init) }
            .filter { !$0.hasPrefix("charter_sign_in=") }
        let csrf = try #require(pairs.first { $0.hasPrefix("charter_csrf=") }).dropFirst("charter_csrf=".count)
        return .success((pairs.joined(separator: "; "), String(csrf)))
    }

    struct AnswerFailure: Error {
        var answer: Answer
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

    @Test("a person signs in: 302 to the provider, back to the callback, 303 with the session cookies; the session works")
    func signIn() async throws {
        let setup = try await Self.prepare()
        let provider = try Provider.configured()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            #expect(location.hasPrefix(provider.issuer + "/auth?"))
            for parameter in ["code_challenge_method=S256", "response_type=code", "state=", "nonce=", "code_challenge="] {
                #expect(location.contains(parameter), "\(parameter)")
            }
            #expect(try await Self.attempts(of: setup.world.msp) == 1)
            let back = try await Provider.signIn(at: location, as: "alice")
            var session = ""
            var csrf = ""
            try await client.execute(uri: back, method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther, "\(String(buffer: response.body))")
                #expect(response.headers[.location] == "/tenants")
                let cookies = response.headers[values: .setCookie]
                let sessionCookie = try #require(cookies.first { $0.hasPrefix("charter_session=chss_") })
                #expect(sessionCookie.contains("HttpOnly") && sessionCookie.contains("SameSite=Lax") && sessionCookie.contains("Path=/"))
                #expect(!sessionCookie.contains("Secure"))
                let csrfCookie = try #require(cookies.first { $0.hasPrefix("charter_csrf=") })
                #expect(!csrfCookie.contains("HttpOnly") && csrfCookie.contains("SameSite=Strict"))
                #expect(cookies.contains { $0.hasPrefix("charter_sign_in=;") && $0.contains("Max-Age=0") })
                session = String(sessionCookie.split(separator: ";")[0])
                csrf = String(csrfCookie.split(separator: ";")[0].dropFirst("charter_csrf=".count))
            }
            // The attempt was taken: the same redirect again finds nothing.
            expectProblem(try await Self.callback(client, back, cookie: cookie), 400, field: "state")
            #expect(try await Self.attempts(of: setup.world.msp) == 0)

            // The session is alice: her grants come from the mapping of her provider group.
            let whoami = try await client.call(.get, "/v1/whoami", headers: [.cookie: session])
            #expect(whoami.status == .ok, "\(whoami.json)")
            let person = try #require(whoami.json["person"] as? [String: Any])
            #expect(person["email"] as? String == "alice@msp.test" && person["issuer"] as? String == provider.issuer)
            let grants = try #require(whoami.json["grants"] as? [[String: Any]])
            #expect(grants.count == 1 && grants.first?["role"] as? String == "admin")
            #expect(try await Self.people(client, setup).map { $0["email"] as? String } == ["alice@msp.test"])
            // A write from the browser needs the CSRF token the sign-in set.
            let tenant = setup.world.tenants[0]
            let body = #"{"name":"from the portal"}"#
            expectProblem(
                try await client.call(.post, "/v1/tenants/\(tenant)/enrollment-tokens", body: body, headers: [.cookie: session]),
                403
            )
            var headers: HTTPFields = [.cookie: session]
            headers[HTTPField.Name("X-CSRF-Token")!] = csrf
            let created = try await client.call(.post, "/v1/tenants/\(tenant)/enrollment-tokens", body: body, headers: headers)
            #expect(created.status == .created, "\(created.json)")
            // …and the audit log names her.
            let events = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events", key: setup.world.mspKey)
            let actors = (events.json["items"] as? [[String: Any]] ?? []).compactMap { $0["actor"] as? [String: Any] }
            #expect(actors.contains { $0["email"] as? String == "alice@msp.test" && $0["subject"] != nil })
        }
    }

    @Test("roles from provider groups: a tenant-only mapping limits an approver to that tenant")
    func tenantMapping() async throws {
        let other = try await TestApp.makeWorld(tenants: 1)
        let setup = try await Self.prepare()
        let tenant = setup.world.tenants[0]
        try await Self.run(setup) { client in
            let mapping = #"{"claim_value":"tenant-a-approvers","role":"approver","tenant_id":"\#(tenant)"}"#
            let created = try await client.call(.post, "/v1/msps/\(setup.world.msp)/role-mappings", key: setup.world.mspKey, body: mapping)
            #expect(created.status == .created, "\(created.json)")
            // bob is in charter-approvers (no mapping) and tenant-a-approvers (approver on this MSP's tenant).
            let signedIn = try await Self.signIn(client, setup, as: "bob")
            guard case .success(let bob) = signedIn else { Issue.record("bob was refused"); return }
            let whoami = try await client.call(.get, "/v1/whoami", headers: [.cookie: bob.cookie])
            let grants = try #require(whoami.json["grants"] as? [[String: Any]])
            #expect(grants.count == 1 && grants.first?["role"] as? String == "approver")
            #expect(grants.first?["tenant_id"] as? String == tenant.description)
            #expect(try await client.call(.get, "/v1/tenants/\(tenant)/requests", headers: [.cookie: bob.cookie]).status == .ok)
            // Another MSP's tenant does not exist for him; the MSP's tenant list is not his to read.
            expectProblem(try await client.call(.get, "/v1/tenants/\(other.tenants[0])/requests", headers: [.cookie: bob.cookie]), 404)
            expectProblem(try await client.call(.get, "/v1/msps/\(setup.world.msp)/tenants", headers: [.cookie: bob.cookie]), 403)
        }
    }

    @Test("a person removed from the provider's group loses the role at the next sign-in, on the session already open")
    func groupRemoved() async throws {
        let setup = try await Self.prepare()
        let provider = try Provider.configured()
        let user = "dana-\(UUID().uuidString.prefix(8).lowercased())"
        try await provider.addUser(user, email: "\(user)@msp.test", groups: ["charter-admins"])
        try await Self.run(setup) { client in
            guard case .success(let first) = try await Self.signIn(client, setup, as: user) else {
                Issue.record("\(user) was refused")
                return
            }
            #expect(try await client.call(.get, "/v1/msps/\(setup.world.msp)/tenants", headers: [.cookie: first.cookie]).status == .ok)
            try await provider.setGroups(["somewhere-else"], of: user)
            guard case .failure(let refused) = try await Self.signIn(client, setup, as: user) else {
                Issue.record("\(user) signed in without a role")
                return
            }
            expectProblem(refused.answer, 403)
            #expect(refused.answer.json["type"] as? String == "/docs/problems/no-role.md")
            #expect(refused.answer.headers[values: .setCookie].allSatisfy { !$0.hasPrefix("charter_session=chss_") })
            // The session opened before has lost the role with the groups.
            expectProblem(try await client.call(.get, "/v1/msps/\(setup.world.msp)/tenants", headers: [.cookie: first.cookie]), 403)
        }
    }

    @Test("a wrong state, a missing or another browser's cookie are refused and spend nothing")
    func stateAndBrowser() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let (_, otherCookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await Provider.signIn(at: location, as: "alice")
            let code = try #require(URLComponents(string: back)?.queryItems?.first { $0.name == "code" }?.value, "\(back)")
            expectProblem(
                try await Self.callback(client, "/v1/auth/callback?code=\(code)&state=forged-state", cookie: cookie), 400,
                field: "state"
            )
            expectProblem(try await Self.callback(client, back, cookie: nil), 403, field: "charter_sign_in")
            expectProblem(try await Self.callback(client, back, cookie: otherCookie), 403, field: "charter_sign_in")
            expectProblem(try await Self.callback(client, "/v1/auth/callback?state=x", cookie: cookie), 400, field: "code")
            #expect(try await Self.people(client, setup).isEmpty)
            #expect(try await Self.attempts(of: setup.world.msp) == 2)
            // None of that spent the attempt: its own browser still completes it.
            #expect(try await Self.callback(client, back, cookie: cookie).status == .seeOther)
            #expect(try await Self.people(client, setup).count == 1)
        }
    }

    @Test("a replayed code is refused: a new sign-in cannot redeem an old code")
    func replayedCode() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await Provider.signIn(at: location, as: "alice")
            let first = try await Self.callback(client, back, cookie: cookie)
            #expect(first.status == .seeOther, "\(first.json)")
            let code = try #require(URLComponents(string: back)?.queryItems?.first { $0.name == "code" }?.value)
            let (second, secondCookie) = try await Self.start(client, msp: setup.world.msp)
            let state = try #require(URLComponents(string: second)?.queryItems?.first { $0.name == "state" }?.value)
            let replay = try await Self.callback(client, "/v1/auth/callback?code=\(code)&state=\(state)", cookie: secondCookie)
            expectProblem(replay, 401, field: "code")
            let sessions = try await client.call(.get, "/v1/msps/\(setup.world.msp)/sessions", key: setup.world.mspKey)
            #expect((sessions.json["items"] as? [Any])?.count == 1)
        }
    }

    @Test("a code issued to another client (another audience) is refused")
    func anotherAudience() async throws {
        let setup = try await Self.prepare()
        let provider = try Provider.configured()
        try await provider.addClient("charter-other", secret: "other-secret-0123456789", redirectURI: Provider.callback)
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            // The same request, but for the other client: its code and ID token are for `charter-other`.
            let foreign = location.replacingOccurrences(
                of: "client_id=\(provider.clientID)&", with: "client_id=charter-other&"
            )
            let back = try await Provider.signIn(at: foreign, as: "alice")
            expectProblem(try await Self.callback(client, back, cookie: cookie), 401, field: "code")
            #expect(try await Self.people(client, setup).isEmpty)
        }
    }

    @Test("a person whose email domain is not allowed is refused (403, email)")
    func domainNotAllowed() async throws {
        let setup = try await Self.prepare()
        try await Self.run(setup) { client in
            let (location, cookie) = try await Self.start(client, msp: setup.world.msp)
            let back = try await Provider.signIn(at: location, as: "carol")
            expectProblem(try await Self.callback(client, back, cookie: cookie), 403, field: "email")
            #expect(try await Self.people(client, setup).isEmpty)
        }
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
            let back = try await Provider.signIn(at: location, as: "alice")
            expectProblem(try await Self.callback(client, back, cookie: cookie), 503)
            #expect(try await Self.people(client, setup).isEmpty)
        }
    }

    @Test("a flood of sign-ins is refused while under way, and once expired it no longer counts: no lasting lock-out")
    func attemptLimit() async throws {
        let setup = try await Self.prepare()
        let msp = setup.world.msp
        // Anyone who knows the MSP's id can start sign-ins; fill the limit as such a holder would.
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    INSERT INTO sign_in_attempts (state_hash, msp_id, issuer, client_id, nonce, verifier_sealed,
                                                  return_to, browser_hash, created_at, expires_at)
                    SELECT sha256(convert_to('flood' || n, 'UTF8')), \(msp.rawValue), 'i', 'c', repeat('n', 16), 's',
                           '/', sha256(convert_to('browser', 'UTF8')), now(), now() + interval '10 minutes'
                    FROM generate_series(1, \(SignInService.maximumAttemptsPerMSP)) n
                    """
                )
            }
        }
        try await Self.run(setup) { client in
            expectProblem(try await client.call(.get, "/v1/auth/sign-in?msp=\(msp)"), 429)
        }
        #expect(try await Self.attempts(of: msp) == SignInService.maximumAttemptsPerMSP)
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    "UPDATE sign_in_attempts SET expires_at = now() - interval '1 minute' WHERE msp_id = \(msp.rawValue)"
                )
            }
        }
        try await Self.run(setup) { client in _ = try await Self.start(client, msp: msp) }
        #expect(try await Self.attempts(of: msp) == 1)
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
            let back = try await Provider.signIn(at: location, as: "alice")
            try await client.execute(uri: back, method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/")
            }
            expectProblem(
                try await Self.callback(client, "/v1/auth/callback?error=access_denied&state=x", cookie: cookie), 401,
                field: "error"
            )
            // Anyone can hand a browser a callback link: the provider's `error` goes into the problem only as a
            // short code, never as markup or prose; an oversized state is refused before any lookup.
            let crafted = try await Self.callback(
                client, "/v1/auth/callback?error=%3Cscript%3Ealert(1)%3C/script%3E%20" + String(repeating: "a", count: 300)
                    + "&state=x",
                cookie: cookie
            )
            expectProblem(crafted, 401, field: "error")
            let detail = crafted.json["detail"] as? String ?? ""
            #expect(!detail.contains("<") && !detail.contains("alert(1)") && detail.utf8.count < 200)
            let empty = try await Self.callback(client, "/v1/auth/callback?error=%3C%3E&state=x", cookie: cookie)
            expectProblem(empty, 401, field: "error")
            #expect((empty.json["detail"] as? String)?.contains("no error code") == true)
            expectProblem(
                try await Self.callback(
                    client, "/v1/auth/callback?code=c&state=" + String(repeating: "s", count: 201), cookie: cookie
                ),
                400, field: "state"
            )
        }
        #expect(try await Self.attempts(of: bare.msp) == 0)
    }
}
