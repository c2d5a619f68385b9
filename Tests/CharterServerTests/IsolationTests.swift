import CharterCore
import CharterServer
import CharterServices
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Every route of the API document, tried with tenant A's key against tenant B (and MSP 1's key against MSP 2).
@Suite("Tenant isolation over every route")
struct IsolationTests {
    struct Route: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var template: String
        var description: String { "\(method) \(template)" }
    }

    /// The operations of openapi.yaml, read from the document itself so a new route cannot be forgotten.
    static let routes: [Route] = {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CharterServer/openapi.yaml")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var routes: [Route] = []
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /") && line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("components:") {
                path = nil
            } else if let current = path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                let method = HTTPRequest.Method(String(line.dropFirst(4).dropLast()).uppercased()),
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method.rawValue)
            {
                routes.append(Route(method: method, template: current))
            }
        }
        return routes
    }()

    /// A body the route would accept from an authorised caller, so only authorisation can refuse it.
    static func validBody(for route: Route) -> String? {
        switch (route.method, route.template) {
        case (.get, _), (.delete, _): nil
        case (.post, let path) where path.hasSuffix("/tenants"): #"{"name":"pwned"}"#
        case (.post, let path) where path.hasSuffix("/api-keys"): #"{"name":"pwned","role":"auditor"}"#
        case (.post, let path) where path.hasSuffix("/webhooks"):
            #"{"url":"https://hooks.example.com/pwned","events":["request.created","device.revoked"]}"#
        case (.patch, "/v1/tenants/{tenant}"): #"{"name":"pwned"}"#
        case (.post, "/v1/msps/{msp}/baselines"), (.put, "/v1/msps/{msp}/baselines/{id}"):
            #"{"schema_version":1,"name":"pwned"}"#
        case (.put, "/v1/tenants/{tenant}/baselines"): #"{"ids":[]}"#
        case (.post, let path) where path.hasSuffix("/pre-approved-applications"),
            (.put, let path) where path.hasSuffix("/pre-approved-applications/{entry}"):
            #"{"file_name":"pwned.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"none"}}"#
        default: "{}"
        }
    }

    @Test("the route list was read from the document")
    func routesFound() {
        #expect(Self.routes.count >= 16)
    }

    @Test("a key of tenant A can neither read nor change anything of tenant B")
    func tenantKeyCannotReachOtherTenant() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let victim = world.tenants[1]
        let other = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let before = try await client.call(.get, "/v1/tenants/\(victim)/audit-events", key: world.tenantKeys[1])
            for route in Self.routes {
                let uri = route.template
                    .replacingOccurrences(of: "{tenant}", with: victim.description)
                    .replacingOccurrences(of: "{msp}", with: other.msp.description)
                    .replacingOccurrences(of: "{key}", with: UUID().uuidString.lowercased())
                for key in [world.tenantKeys[0], world.mspKey] where !(key == world.mspKey && uri.contains(victim.description)) {
                    let body = Self.validBody(for: route)
                    let answer = try await client.call(route.method, uri, key: key, body: body)
                    if uri.contains("/v1/whoami") { continue }
                    // A body this test cannot make valid may be refused before authorisation; that reveals nothing.
                    let allowed: Set<Int> = body == "{}" ? [400, 403, 404, 422] : [403, 404]
                    #expect(allowed.contains(answer.status.code), "\(route) answered \(answer.status.code)")
                    #expect(!"\(answer.json)".contains(victim.description), "\(route) leaked the victim's id")
                }
            }
            // Its own MSP's overview answers, with tenant A only.
            let overview = try await client.call(.get, "/v1/msps/\(world.msp)/overview", key: world.tenantKeys[0])
            #expect(overview.status == .ok)
            #expect(overview.items.count == 1)
            #expect(!"\(overview.json)".contains(victim.description), "the overview leaked the victim's id")
            let tenant = try await client.call(.get, "/v1/tenants/\(victim)", key: world.tenantKeys[1])
            #expect(tenant.json["name"] as? String == "Tenant 1")
            let after = try await client.call(.get, "/v1/tenants/\(victim)/audit-events", key: world.tenantKeys[1])
            #expect(after.items.count == before.items.count)
        }
    }
    @Test("a person of tenant A, or an MSP-wide person of another MSP, can neither read nor change anything of tenant B")
    func personCannotReachOtherTenant() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let victimTenant = world.tenants[1]
        let other = try await TestApp.makeWorld(tenants: 1)
        let system = Caller.system(logger: TestApp.logger)
        let (tenantPerson, mspPerson, victim) = try await TestApp.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map(
                "a-owners", to: Grant(role: .owner, scope: .tenant(world.msp, world.tenants[0])), in: world.msp, by: system
            )
            _ = try await people.map("owners", to: Grant(role: .owner, scope: .msp(world.msp)), in: world.msp, by: system)
            _ = try await people.map("owners", to: Grant(role: .owner, scope: .msp(other.msp)), in: other.msp, by: system)
            func signIn(_ msp: MSPID, _ group: String) async throws -> OpenedSession {
                try await people.signIn(
                    VerifiedIdentity(issuer: "https://idp.test", subject: UUID().uuidString, email: nil, name: nil, groups: [group]),
                    msp: msp, client: ClientInfo(userAgent: nil, ip: nil), logger: TestApp.logger
                )
            }
            return (try await signIn(world.msp, "a-owners"), try await signIn(other.msp, "owners"),
                    try await signIn(world.msp, "owners"))
        }
        // With a key-encryption key, so that no route refuses for the lack of one before it looks the tenant up.
        try await TestApp.run(TestApp.sealingConfig) { client in
            var tokens: [String] = []
            for session in [tenantPerson, mspPerson] {
                var headers: HTTPFields = [.cookie: "charter_session=\(session.credential)"]
                headers[HTTPField.Name("X-CSRF-Token")!] = session.csrfToken
                let issued = try await client.call(.post, "/v1/auth/tokens", headers: headers)
                tokens.append(try #require(issued.json["token"] as? String))
            }
            // Requests in the victim tenant, so that a report leaking them would name it.
            _ = try await ElevationReportTests.sampleRequests(client, world, index: 1)
            let before = try await client.call(.get, "/v1/tenants/\(victimTenant)/audit-events", key: world.tenantKeys[1])
            // The caller's own routes (/v1/auth, /v1/me, whoami) concern only the caller.
            for route in Self.routes where !route.template.hasPrefix("/v1/auth/") && !route.template.hasPrefix("/v1/me/")
                && route.template != "/v1/whoami"
            {
                for (token, msp) in [(tokens[0], world.msp), (tokens[1], world.msp), (tokens[0], other.msp)] {
                    // Any person of an MSP may read the MSP itself.
                    if route.template == "/v1/msps/{msp}" && token == tokens[0] && msp == world.msp { continue }
                    // The MSP's reports answer the tenant person with its own tenant's rows only (ElevationReportTests,
                    // "the MSP report covers exactly the tenants the caller may read").
                    if route.template.hasPrefix("/v1/msps/{msp}/reports/") && token == tokens[0] && msp == world.msp {
                        let uri = route.template.replacingOccurrences(of: "{msp}", with: msp.description) + "?group=user"
                        let answer = try await client.call(route.method, uri, key: token)
                        #expect(answer.status == .ok, "\(route) answered \(answer.status.code)")
                        #expect(!"\(answer.json)".contains(victimTenant.description), "\(route) leaked the victim's id")
                        continue
                    }
                    let uri = route.template
                        .replacingOccurrences(of: "{tenant}", with: victimTenant.description)
                        .replacingOccurrences(of: "{msp}", with: msp.description)
                        .replacingOccurrences(of: "{person}", with: victim.personID.description)
                        .replacingOccurrences(of: "{session}", with: victim.id.description)
                        .replacingOccurrences(of: "{key}", with: UUID().uuidString.lowercased())
                    // Every other id is well-formed, so the MSP-wide person of the other MSP, whom no role check
                    // stops before the tenant is looked up, meets the tenant's absence rather than a 400.
                    let wellFormed = ["{id}", "{entry}", "{connection}", "{run}", "{guid}", "{grant}", "{mapping}"].reduce(uri) {
                        $0.replacingOccurrences(of: $1, with: UUID().uuidString.lowercased())
                    }
                    // The tenant person on its own MSP's MSP-wide routes is refused 403 (tenant-scoped); all else
                    // is not found.
                    let body = Self.validBody(for: route)
                    let answer = try await client.call(route.method, wellFormed, key: token, body: body)
                    // The MSP overview shows a tenant-scoped person the tenants of their grants (tenant A only).
                    let ownOverview = route.template == "/v1/msps/{msp}/overview" && token == tokens[0] && msp == world.msp
                    let allowed: Set<Int> = ownOverview ? [200] : body == "{}" ? [400, 403, 404, 422] : [403, 404]
                    #expect(allowed.contains(answer.status.code), "\(route) answered \(answer.status.code)")
                    #expect(!"\(answer.json)".contains(victimTenant.description), "\(route) leaked the victim's id")
                }
            }
            let after = try await client.call(.get, "/v1/tenants/\(victimTenant)/audit-events", key: world.tenantKeys[1])
            #expect(after.items.count == before.items.count)
            var victimCookie: HTTPFields = [:]
            victimCookie[.cookie] = "charter_session=\(victim.credential)"
            #expect(try await client.call(.get, "/v1/whoami", headers: victimCookie).status == .ok)
        }
    }
}
