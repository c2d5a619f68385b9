import CharterCore
import CharterDirectory
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The directory API over HTTP, against the real PostgreSQL and Samba DC.
@Suite("Directory API")
struct DirectoryAPITests {
    let domain = TestDomain()

    /// The service with a key-encryption key and without its scheduler (the tests sync explicitly).
    static func run(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await TestApp.withOwner { _ in }
        var config = TestApp.config
        config.kek = TestDomain.kek
        config.maxBodyBytes = 65536
        let app = try buildApplication(config, logger: TestApp.logger)
        try await app.test(.router, body)
    }

    func connectionBody(base: String, password: String? = nil, urls: [String]? = nil, mode: String = "plain") -> String {
        let object: [String: Any] = [
            "name": "Head office", "urls": urls ?? [domain.url], "base_dn": base, "bind_dn": domain.bindDN,
            "bind_password": password ?? domain.password, "tls_mode": mode,
            // Not scheduled: other suites run schedulers against the same database.
            "enabled": false,
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    @Test("an admin connects a directory, syncs it and reads users, groups with chains and the OU path")
    func connectSyncAndRead() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "api")
        let staff = try await ldap.addOU("Staff", in: ou)
        let alice = try await ldap.addUser("Alice Api", in: staff)
        let inner = try await ldap.addGroup("Inner", in: ou, members: [alice])
        let outer = try await ldap.addGroup("Outer", in: ou, members: [inner])
        let aliceGUID = try await ldap.guid(of: alice)
        let innerGUID = try await ldap.guid(of: inner)
        let outerGUID = try await ldap.guid(of: outer)
        let staffGUID = try await ldap.guid(of: staff)
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]

        try await Self.run { client in
            let base = "/v1/tenants/\(tenant)/directory"
            let created = try await client.call(.post, "\(base)/connections", key: key, body: connectionBody(base: ou))
            #expect(created.status == .created)
            #expect(created.json["has_password"] as? Double == 1)
            #expect(created.json["bind_password"] == nil)
            #expect(!"\(created.json)".contains(domain.password))
            let id = try #require(created.json["id"] as? String)
            let etag = try #require(created.headers[.eTag])

            let stale = try await client.call(
                .patch, "\(base)/connections/\(id)", key: key, body: #"{"interval_seconds": 600}"#,
                headers: [.ifMatch: "\"v99\""]
            )
            expectProblem(stale, 412)
            let patched = try await client.call(
                .patch, "\(base)/connections/\(id)", key: key, body: #"{"interval_seconds": 600}"#,
                headers: [.ifMatch: etag]
            )
            #expect(patched.status == .ok)
            #expect(patched.json["interval_seconds"] as? Double == 600)

            let run = try await client.syncAndWait("\(base)/connections/\(id)/sync", key: key, body: #"{"kind":"full"}"#)
            #expect(run.status == .ok)
            #expect(run.json["status"] as? String == "succeeded", "\(run.json)")
            let runID = try #require(run.json["id"] as? String)
            let runs = try await client.call(.get, "\(base)/sync-runs?connection=\(id)", key: key)
            #expect(runs.items.map { $0["id"] as? String } == [runID])
            let one = try await client.call(.get, "\(base)/sync-runs/\(runID)", key: key)
            #expect(one.json["kind"] as? String == "full")

            let users = try await client.call(.get, "\(base)/users?q=alice%20api", key: key)
            #expect(users.items.map { $0["guid"] as? String } == [aliceGUID.description])
            let user = try await client.call(.get, "\(base)/users/\(aliceGUID)", key: key)
            #expect((user.json["dn"] as? String)?.lowercased() == alice.lowercased())
            let notAComputer = try await client.call(.get, "\(base)/computers/\(aliceGUID)", key: key)
            expectProblem(notAComputer, 404)

            let groups = try await client.call(.get, "\(base)/users/\(aliceGUID)/groups", key: key)
            let direct = (groups.json["direct"] as? [[String: any Sendable]]) ?? []
            let transitive = (groups.json["transitive"] as? [[String: any Sendable]]) ?? []
            #expect(direct.map { $0["guid"] as? String } == [innerGUID.description])
            let viaInner = try #require(transitive.first { $0["guid"] as? String == outerGUID.description })
            #expect(viaInner["chain"] as? [String] == [innerGUID.description, outerGUID.description])
            let path = (groups.json["ou_path"] as? [[String: any Sendable]]) ?? []
            #expect(path.first?["guid"] as? String == staffGUID.description)

            let ous = try await client.call(.get, "\(base)/ous?limit=1", key: key)
            #expect(ous.items.count == 1)
            let next = try #require(ous.json["next_cursor"] as? String)
            let second = try await client.call(.get, "\(base)/ous?limit=1&cursor=\(next)", key: key)
            #expect(second.items.count == 1 && second.items.first?["guid"] as? String != ous.items.first?["guid"] as? String)

            let current = try await client.call(.get, "\(base)/connections/\(id)", key: key)
            let deleted = try await client.call(
                .delete, "\(base)/connections/\(id)", key: key, headers: [.ifMatch: try #require(current.headers[.eTag])]
            )
            #expect(deleted.status == .noContent)
            expectProblem(try await client.call(.get, "\(base)/connections/\(id)", key: key), 404)
            #expect(try await client.call(.get, "\(base)/users", key: key).items.isEmpty)
        }
    }

    @Test("bad connection input is refused with the field at fault")
    func validation() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let key = world.tenantKeys[0]
        try await Self.run { client in
            let base = "/v1/tenants/\(world.tenants[0])/directory/connections"
            let wrongScheme = try await client.call(
                .post, base, key: key, body: connectionBody(base: domain.baseDN, mode: "ldaps")
            )
            expectProblem(wrongScheme, 422, field: "/urls/0")
            let badDN = try await client.call(.post, base, key: key, body: connectionBody(base: "not a dn"))
            expectProblem(badDN, 422, field: "/base_dn")
            let noPassword = try await client.call(.post, base, key: key, body: connectionBody(base: domain.baseDN, password: ""))
            expectProblem(noPassword, 422, field: "/bind_password")
            expectProblem(try await client.call(.get, "\(base)/not-a-uuid", key: key), 400, field: "connection")
            expectProblem(try await client.call(.get, "/v1/tenants/\(world.tenants[0])/directory/users/xyz", key: key), 400, field: "guid")
        }
    }

    @Test("an auditor reads the directory but cannot connect or sync it")
    func auditorCannotConfigure() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let auditor = try await TestApp.withOwner { database in
            try await Bootstrap(database: database, logger: TestApp.logger, actorName: "tests")
                .createAPIKey(name: "auditor", role: .auditor, scope: .tenant(world.msp, tenant))
        }
        try await Self.run { client in
            let base = "/v1/tenants/\(tenant)/directory"
            expectProblem(
                try await client.call(.post, "\(base)/connections", key: auditor, body: connectionBody(base: domain.baseDN)),
                403
            )
            #expect(try await client.call(.get, "\(base)/connections", key: auditor).status == .ok)
            #expect(try await client.call(.get, "\(base)/groups", key: auditor).status == .ok)
        }
    }
}
