import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// `GET /v1/msps/{msp}/overview` through the whole application: who sees which tenants, the parameters, paging.
/// The figures themselves are `OverviewRepositoryTests`' (CharterStoreTests).
@Suite("MSP overview API")
struct MSPOverviewAPITests {
    /// Marks the tenant's audit chain broken, as the verification would.
    static func breakChain(_ tenant: TenantID, of msp: MSPID) async throws {
        try await TestApp.withService { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    INSERT INTO audit_chain_states (tenant_id, verified_seq, verified_hash, verified_at, status, since,
                        broken_seq, broken_reason)
                    VALUES (\(tenant.rawValue), 1, \(Data(repeating: 0, count: 32)), now(), 'broken', now(), 2,
                        'content does not match its hash')
                    """
                )
            }
        }
    }

    static func names(_ answer: Answer) -> [String] {
        answer.items.compactMap { $0["name"] as? String }
    }

    @Test("an MSP-wide key sees every tenant with its figures, ordered by attention, filtered by reason")
    func mspKey() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        try await Self.breakChain(world.tenants[1], of: world.msp)
        try await TestApp.run { client in
            let answer = try await client.call(.get, "/v1/msps/\(world.msp)/overview", key: world.mspKey)
            #expect(answer.status == .ok)
            #expect(Self.names(answer) == ["Tenant 1", "Tenant 0"])
            let broken = try #require(answer.items.first)
            #expect(broken["tenant_id"] as? String == world.tenants[1].description)
            #expect(broken["needs_attention"] as? [String] == ["audit_chain_broken"])
            let chain = try #require(broken["audit_chain"] as? [String: any Sendable])
            #expect(chain["status"] as? String == "broken")
            #expect(chain["broken_at"] as? Double == 2)
            #expect(chain["verified_through"] as? Double == 1)
            let fine = try #require(answer.items.last)
            #expect((fine["needs_attention"] as? [any Sendable])?.isEmpty == true)
            #expect((fine["audit_chain"] as? [String: any Sendable])?["status"] as? String == "unverified")
            let devices = try #require(fine["devices"] as? [String: any Sendable])
            #expect(devices["total"] as? Double == 0)
            #expect(devices["behind"] as? Double == 0)
            #expect((fine["directory"] as? [String: any Sendable])?["connections"] as? Double == 0)
            #expect(fine["pending_requests"] as? Double == 0)
            #expect(answer.json["next_cursor"] == nil)

            let uri = "/v1/msps/\(world.msp)/overview"
            let byName = try await client.call(.get, uri + "?sort=name", key: world.mspKey)
            #expect(Self.names(byName) == ["Tenant 0", "Tenant 1"])
            let attention = try await client.call(.get, uri + "?needs_attention=true", key: world.mspKey)
            #expect(Self.names(attention) == ["Tenant 1"])
            let calm = try await client.call(.get, uri + "?needs_attention=false", key: world.mspKey)
            #expect(Self.names(calm) == ["Tenant 0"])
            let reasons = try await client.call(
                .get, uri + "?reason=sync_failed&reason=audit_chain_broken&stale_after=86400", key: world.mspKey
            )
            #expect(Self.names(reasons) == ["Tenant 1"])
            let none = try await client.call(.get, uri + "?reason=sync_held", key: world.mspKey)
            #expect(none.status == .ok)
            #expect(none.items.isEmpty)
        }
    }

    @Test("an MSP-wide key reads figures up to overview.max_age_seconds old, as_of saying when; a tenant key reads its own now")
    func snapshots() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        var config = TestApp.config
        config.overviewMaxAgeSeconds = 300
        try await TestApp.run(config) { client in
            let uri = "/v1/msps/\(world.msp)/overview"
            let first = try await client.call(.get, uri, key: world.mspKey)
            let asOf = try #require(first.json["as_of"] as? String)
            #expect(first.items.allSatisfy { ($0["needs_attention"] as? [any Sendable])?.isEmpty == true })
            try await Self.breakChain(world.tenants[0], of: world.msp)
            let again = try await client.call(.get, uri + "?sort=name", key: world.mspKey)
            #expect(again.json["as_of"] as? String == asOf)
            #expect(again.items.allSatisfy { ($0["needs_attention"] as? [any Sendable])?.isEmpty == true })
            let own = try await client.call(.get, uri, key: world.tenantKeys[0])
            #expect(own.items.first?["needs_attention"] as? [String] == ["audit_chain_broken"])
            #expect(try #require(own.json["as_of"] as? String) >= asOf)
        }
        // Without snapshots every request reads.
        config.overviewMaxAgeSeconds = 0
        try await TestApp.run(config) { client in
            let live = try await client.call(.get, "/v1/msps/\(world.msp)/overview", key: world.mspKey)
            #expect(Self.names(live) == ["Tenant 0", "Tenant 1"])
        }
    }

    @Test("pages follow the order, with the last tenant's id as the cursor")
    func paging() async throws {
        let world = try await TestApp.makeWorld(tenants: 3)
        try await TestApp.run { client in
            let uri = "/v1/msps/\(world.msp)/overview?sort=name&limit=2"
            let first = try await client.call(.get, uri, key: world.mspKey)
            #expect(Self.names(first) == ["Tenant 0", "Tenant 1"])
            let cursor = try #require(first.json["next_cursor"] as? String)
            #expect(cursor == world.tenants[1].description)
            let second = try await client.call(.get, uri + "&cursor=\(cursor)", key: world.mspKey)
            #expect(Self.names(second) == ["Tenant 2"])
            #expect(second.json["next_cursor"] == nil)
            // A well-formed cursor naming no tenant of the overview ends the listing.
            let gone = try await client.call(.get, uri + "&cursor=\(UUID().uuidString.lowercased())", key: world.mspKey)
            #expect(gone.status == .ok)
            #expect(gone.items.isEmpty)
        }
    }

    @Test("a tenant-scoped key sees its own tenant only; another MSP's key finds nothing")
    func scope() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let other = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let own = try await client.call(.get, "/v1/msps/\(world.msp)/overview", key: world.tenantKeys[0])
            #expect(own.status == .ok)
            #expect(own.items.compactMap { $0["tenant_id"] as? String } == [world.tenants[0].description])
            #expect(!"\(own.json)".contains(world.tenants[1].description))
            for key in [other.mspKey, other.tenantKeys[0]] {
                let answer = try await client.call(.get, "/v1/msps/\(world.msp)/overview", key: key)
                expectProblem(answer, 404)
            }
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/overview"), 401)
        }
    }

    @Test("a person sees the tenants of their grants only, an MSP-wide person every tenant")
    func people() async throws {
        let world = try await TestApp.makeWorld(tenants: 3)
        let system = Caller.system(logger: TestApp.logger)
        let (tenantPerson, mspPerson) = try await TestApp.withService { database in
            let people = PeopleService(database: database)
            for tenant in world.tenants.prefix(2) {
                _ = try await people.map(
                    "helpdesk", to: Grant(role: .approver, scope: .tenant(world.msp, tenant)), in: world.msp, by: system
                )
            }
            _ = try await people.map("auditors", to: Grant(role: .auditor, scope: .msp(world.msp)), in: world.msp, by: system)
            func signIn(_ group: String) async throws -> OpenedSession {
                try await people.signIn(
                    VerifiedIdentity(issuer: "https://idp.test", subject: UUID().uuidString, email: nil, name: nil, groups: [group]),
                    msp: world.msp, client: ClientInfo(userAgent: nil, ip: nil), logger: TestApp.logger
                )
            }
            return (try await signIn("helpdesk"), try await signIn("auditors"))
        }
        try await TestApp.run { client in
            for (session, expected) in [(tenantPerson, Array(world.tenants.prefix(2))), (mspPerson, world.tenants)] {
                let headers: HTTPFields = [.cookie: "charter_session=\(session.credential)"]
                let answer = try await client.call(.get, "/v1/msps/\(world.msp)/overview?sort=name", headers: headers)
                #expect(answer.status == .ok)
                #expect(answer.items.compactMap { $0["tenant_id"] as? String } == expected.map(\.description))
            }
        }
    }

    @Test(
        "parameters out of range are refused with the parameter named",
        arguments: [
            ("stale_after=599", "stale_after"), ("stale_after=31536001", "stale_after"), ("limit=0", "limit"),
            ("limit=201", "limit"), ("cursor=abc", "cursor"), ("stale_after=week", "stale_after"),
        ]
    )
    func badParameters(_ query: String, _ field: String) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let answer = try await client.call(.get, "/v1/msps/\(world.msp)/overview?\(query)", key: world.mspKey)
            expectProblem(answer, 400, field: field)
        }
    }

    @Test("an unknown reason or order is refused as a malformed request")
    func unknownEnums() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            for query in ["reason=bored", "sort=random", "needs_attention=maybe"] {
                let answer = try await client.call(.get, "/v1/msps/\(world.msp)/overview?\(query)", key: world.mspKey)
                expectProblem(answer, 400)
            }
        }
    }
}
