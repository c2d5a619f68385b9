import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// People over HTTP: the session cookie with its CSRF rule, personal tokens, lifetimes, grants and the owners'
/// routes, against the real PostgreSQL.
@Suite("People API")
struct PeopleAPITests {
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    /// A person signed in to `msp` with `groups`, as the OpenID Connect callback would have them.
    static func signIn(_ msp: MSPID, groups: [String], subject: String = UUID().uuidString) async throws -> OpenedSession {
        try await TestApp.withService { database in
            try await PeopleService(database: database).signIn(
                VerifiedIdentity(
                    issuer: "https://idp.test", subject: subject, email: "\(subject.prefix(6))@msp.test", name: nil,
                    groups: groups
                ),
                msp: msp, client: ClientInfo(userAgent: "tests", ip: "192.0.2.1"), logger: TestApp.logger
            )
        }
    }

    static func map(_ claim: String, _ role: Role, on tenant: TenantID? = nil, in msp: MSPID) async throws {
        try await TestApp.withService { database in
            _ = try await PeopleService(database: database).map(
                claim, to: Grant(role: role, scope: tenant.map { .tenant(msp, $0) } ?? .msp(msp)), in: msp,
                by: .system(logger: TestApp.logger)
            )
        }
    }

    static func cookie(_ session: OpenedSession, csrf: String? = nil) -> HTTPFields {
        var headers: HTTPFields = [.cookie: "charter_session=\(session.credential)"]
        if let csrf { headers[csrfHeader] = csrf }
        return headers
    }

    /// Moves a session's clock marks by raw SQL as the schema owner (the tests cannot wait an hour).
    static func setSession(_ id: SessionID, msp: MSPID, lastUsedAgo: Int? = nil, expiresIn: Int? = nil) async throws {
        try await TestApp.withOwner { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                if let lastUsedAgo {
                    try await tx.query(
                        "UPDATE sessions SET last_used_at = now() - make_interval(secs => \(lastUsedAgo)) WHERE id = \(id.rawValue)"
                    )
                }
                if let expiresIn {
                    try await tx.query(
                        "UPDATE sessions SET expires_at = now() + make_interval(secs => \(expiresIn)) WHERE id = \(id.rawValue)"
                    )
                }
            }
        }
    }

    static func lastUsed(_ id: SessionID, msp: MSPID) async throws -> Date {
        try await TestApp.withService { database in
            try await database.withMSP(msp, logger: TestApp.logger) { tx in
                try await tx.sessions.get(id, msp: msp).lastUsedAt
            }
        }
    }

    @Test("the session cookie authenticates; unsafe methods need X-CSRF-Token; a token works as a bearer")
    func cookieCSRFAndToken() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await Self.map("admins", .admin, in: world.msp)
        let session = try await Self.signIn(world.msp, groups: ["admins"])
        try await TestApp.run { client in
            let whoami = try await client.call(.get, "/v1/whoami", headers: Self.cookie(session))
            #expect(whoami.status == .ok)
            let person = try #require(whoami.json["person"] as? [String: any Sendable])
            #expect(person["id"] as? String == session.personID.description)
            #expect(person["session_id"] as? String == session.id.description)
            #expect(whoami.json["role"] as? String == "admin")
            #expect((whoami.json["grants"] as? [[String: any Sendable]])?.first?["role"] as? String == "admin")

            // The real token with its last character changed (to one it does not end in).
            let altered = String(session.csrfToken.dropLast()) + (session.csrfToken.hasSuffix("A") ? "B" : "A")
            for csrf in [nil, "", "wrong", altered] {
                let refused = try await client.call(.post, "/v1/auth/tokens", headers: Self.cookie(session, csrf: csrf))
                #expect(refused.status == .forbidden, "csrf \(csrf ?? "absent")")
                #expect(refused.problemField == "X-CSRF-Token")
            }
            let issued = try await client.call(.post, "/v1/auth/tokens", headers: Self.cookie(session, csrf: session.csrfToken))
            #expect(issued.status == .created)
            let token = try #require(issued.json["token"] as? String)
            #expect(token.hasPrefix("chpt_"))

            let viaToken = try await client.call(.get, "/v1/whoami", key: token)
            #expect(viaToken.status == .ok)
            // A bearer token needs no CSRF token; a token cannot take another token.
            let again = try await client.call(.post, "/v1/auth/tokens", key: token)
            #expect(again.status == .forbidden)
            // The cookie's value is no bearer token, and a token is no cookie.
            #expect(try await client.call(.get, "/v1/whoami", key: session.credential).status == .unauthorized)
            var tokenAsCookie: HTTPFields = [:]
            tokenAsCookie[.cookie] = "charter_session=\(token)"
            #expect(try await client.call(.get, "/v1/whoami", headers: tokenAsCookie).status == .unauthorized)
            // A forged secret for the real session id.
            let forged = String(session.credential.dropLast(4)) + "AAAA"
            var forgedCookie: HTTPFields = [:]
            forgedCookie[.cookie] = "charter_session=\(forged)"
            #expect(try await client.call(.get, "/v1/whoami", headers: forgedCookie).status == .unauthorized)

            // Signing out ends the session and the token taken from it.
            let out = try await client.call(.post, "/v1/auth/sign-out", headers: Self.cookie(session, csrf: session.csrfToken))
            #expect(out.status == .noContent)
            // The browser is told to forget both cookies.
            let cleared = out.headers[values: .setCookie]
            for name in ["charter_session", "charter_csrf"] {
                #expect(cleared.contains { $0.hasPrefix("\(name)=;") && $0.contains("Max-Age=0") && $0.contains("Path=/") })
            }
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(session)).status == .unauthorized)
            #expect(try await client.call(.get, "/v1/whoami", key: token).status == .unauthorized)
        }
    }

    @Test("idle and absolute lifetimes end a session; last_used_at is written at most once a minute")
    func lifetimes() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await Self.map("admins", .admin, in: world.msp)
        let idle = try await Self.signIn(world.msp, groups: ["admins"])
        let absolute = try await Self.signIn(world.msp, groups: ["admins"])
        let touched = try await Self.signIn(world.msp, groups: ["admins"])
        try await TestApp.run { client in
            // Used 30 s ago: valid, and not written again.
            try await Self.setSession(touched.id, msp: world.msp, lastUsedAgo: 30)
            let before = try await Self.lastUsed(touched.id, msp: world.msp)
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(touched)).status == .ok)
            #expect(try await Self.lastUsed(touched.id, msp: world.msp) == before)
            // Used 5 minutes ago: valid, and marked used now.
            try await Self.setSession(touched.id, msp: world.msp, lastUsedAgo: 300)
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(touched)).status == .ok)
            #expect(try await Self.lastUsed(touched.id, msp: world.msp) > Date().addingTimeInterval(-60))

            // Unused past session.idle_minutes (60 by default).
            try await Self.setSession(idle.id, msp: world.msp, lastUsedAgo: 3601)
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(idle)).status == .unauthorized)
            // Past its absolute end, though in use.
            try await Self.setSession(absolute.id, msp: world.msp, expiresIn: -1)
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(absolute)).status == .unauthorized)
        }
    }

    @Test("a tenant-only approver sees only its tenant and nothing MSP-wide")
    func tenantOnlyApprover() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        try await Self.map("helpdesk", .approver, on: world.tenants[0], in: world.msp)
        let session = try await Self.signIn(world.msp, groups: ["helpdesk"])
        try await TestApp.run { client in
            let own = try await client.call(.get, "/v1/tenants/\(world.tenants[0])", headers: Self.cookie(session))
            #expect(own.status == .ok)
            let other = try await client.call(.get, "/v1/tenants/\(world.tenants[1])", headers: Self.cookie(session))
            #expect(other.status == .notFound)
            let tenants = try await client.call(.get, "/v1/msps/\(world.msp)/tenants", headers: Self.cookie(session))
            #expect(tenants.status == .forbidden)
            let msp = try await client.call(.get, "/v1/msps/\(world.msp)", headers: Self.cookie(session))
            #expect(msp.status == .ok)
            let mapping = try await client.call(
                .post, "/v1/msps/\(world.msp)/role-mappings", body: #"{"claim_value":"x","role":"auditor"}"#,
                headers: Self.cookie(session, csrf: session.csrfToken)
            )
            #expect(mapping.status == .forbidden)
            let whoami = try await client.call(.get, "/v1/whoami", headers: Self.cookie(session))
            #expect(whoami.json["tenant_id"] as? String == world.tenants[0].description)
            #expect(whoami.json["role"] as? String == "approver")
        }
    }

    @Test("MSP owners manage people, grants, mappings and sessions; every write names who made it")
    func ownerRoutes() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await Self.map("owners", .owner, in: world.msp)
        let owner = try await Self.signIn(world.msp, groups: ["owners"])
        try await Self.map("techs", .admin, in: world.msp)
        let tech = try await Self.signIn(world.msp, groups: ["techs"])
        let msp = "/v1/msps/\(world.msp)"
        try await TestApp.run { client in
            let ownerHeaders = Self.cookie(owner, csrf: owner.csrfToken)
            let people = try await client.call(.get, "\(msp)/people", headers: ownerHeaders)
            #expect(people.status == .ok)
            #expect(Set(people.items.compactMap { $0["id"] as? String })
                == [owner.personID.description, tech.personID.description])
            let person = try await client.call(.get, "\(msp)/people/\(tech.personID)", key: world.mspKey)
            #expect(person.json["groups"] as? [String] == ["techs"])

            let given = try await client.call(
                .post, "\(msp)/people/\(tech.personID)/grants",
                body: #"{"role":"auditor","tenant_id":"\#(world.tenants[0])"}"#, headers: ownerHeaders
            )
            #expect(given.status == .created, "\(given.json)")
            let grants = try await client.call(.get, "\(msp)/people/\(tech.personID)/grants", headers: ownerHeaders)
            #expect(grants.items.map { $0["source"] as? String } == ["mapping", "direct"])
            #expect(grants.items.first?["claim_value"] as? String == "techs")
            let unknownTenant = try await client.call(
                .post, "\(msp)/people/\(tech.personID)/grants",
                body: #"{"role":"auditor","tenant_id":"\#(UUID().uuidString.lowercased())"}"#, headers: ownerHeaders
            )
            #expect(unknownTenant.status == .unprocessableContent)
            #expect(unknownTenant.problemField == "/tenant_id")
            let badClaim = try await client.call(
                .post, "\(msp)/role-mappings", body: #"{"claim_value":"a\u0007b","role":"auditor"}"#, headers: ownerHeaders
            )
            #expect(badClaim.status == .unprocessableContent)
            #expect(badClaim.problemField == "/claim_value")

            // The direct auditor grant now caps the tech on that tenant (least privilege).
            let enroll = "/v1/tenants/\(world.tenants[0])/enrollment-tokens"
            let techHeaders = Self.cookie(tech, csrf: tech.csrfToken)
            let capped = try await client.call(.post, enroll, body: #"{"name":"x"}"#, headers: techHeaders)
            #expect(capped.status == .forbidden)
            let grantID = try #require(given.json["id"] as? String)
            let taken = try await client.call(.delete, "\(msp)/people/\(tech.personID)/grants/\(grantID)", headers: ownerHeaders)
            #expect(taken.status == .noContent)
            let uncapped = try await client.call(.post, enroll, body: #"{"name":"x"}"#, headers: techHeaders)
            #expect(uncapped.status != .forbidden)

            let mappings = try await client.call(.get, "\(msp)/role-mappings", headers: ownerHeaders)
            #expect(Set(mappings.items.compactMap { $0["claim_value"] as? String }) == ["owners", "techs"])
            let techs = try #require(mappings.items.first { $0["claim_value"] as? String == "techs" }?["id"] as? String)
            #expect(try await client.call(.delete, "\(msp)/role-mappings/\(techs)", headers: ownerHeaders).status == .noContent)
            // No grant left: the tech's session no longer lets them in.
            let lost = try await client.call(.get, "/v1/whoami", headers: Self.cookie(tech))
            #expect(lost.status == .forbidden)
            #expect(lost.json["code"] as? String == "no-role")

            let sessions = try await client.call(.get, "\(msp)/sessions", headers: ownerHeaders)
            #expect(Set(sessions.items.compactMap { $0["id"] as? String }).isSuperset(of: [owner.id.description, tech.id.description]))
            let mine = try await client.call(.get, "/v1/me/sessions", headers: ownerHeaders)
            #expect(mine.items.compactMap { $0["id"] as? String } == [owner.id.description])
            // A person cannot revoke someone else's session through /v1/me.
            let notMine = try await client.call(.delete, "/v1/me/sessions/\(tech.id)", headers: ownerHeaders)
            #expect(notMine.status == .notFound)
            #expect(try await client.call(.delete, "\(msp)/sessions/\(tech.id)", headers: ownerHeaders).status == .noContent)
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(tech)).status == .unauthorized)

            let events = try await client.call(.get, "\(msp)/audit-events?limit=50", key: world.mspKey)
            let revoked = try #require(events.items.first { $0["action"] as? String == "session.revoked" })
            let actor = try #require(revoked["actor"] as? [String: any Sendable])
            #expect(actor["issuer"] as? String == "https://idp.test")
            #expect(actor["id"] as? String == owner.personID.description)
        }
    }

    @Test("a person of one MSP reaches nothing of another MSP, nor its people or sessions")
    func crossMSP() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let other = try await TestApp.makeWorld(tenants: 1)
        try await Self.map("owners", .owner, in: world.msp)
        try await Self.map("owners", .owner, in: other.msp)
        let intruder = try await Self.signIn(world.msp, groups: ["owners"])
        let victim = try await Self.signIn(other.msp, groups: ["owners"])
        try await TestApp.run { client in
            let headers = Self.cookie(intruder, csrf: intruder.csrfToken)
            for (method, uri) in [
                (HTTPRequest.Method.get, "/v1/msps/\(other.msp)/people"),
                (.get, "/v1/msps/\(other.msp)/people/\(victim.personID)"),
                (.get, "/v1/msps/\(other.msp)/sessions"),
                (.delete, "/v1/msps/\(other.msp)/sessions/\(victim.id)"),
                (.delete, "/v1/msps/\(world.msp)/sessions/\(victim.id)"),
                (.delete, "/v1/me/sessions/\(victim.id)"),
                (.get, "/v1/msps/\(world.msp)/people/\(victim.personID)"),
                (.get, "/v1/tenants/\(other.tenants[0])"),
            ] {
                let answer = try await client.call(method, uri, headers: headers)
                #expect(answer.status == .notFound, "\(method) \(uri) answered \(answer.status.code)")
            }
            #expect(try await client.call(.get, "/v1/whoami", headers: Self.cookie(victim)).status == .ok)
        }
    }
}
