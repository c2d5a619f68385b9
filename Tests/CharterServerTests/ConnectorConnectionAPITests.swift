import CharterCore
import CharterDirectory
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Directory connections in `connector` mode through the admin API: the connectors they name, what they do not
/// store, the hints their connectors get.
@Suite("Connector connections API")
struct ConnectorConnectionAPITests {
    static func body(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data(), as: UTF8.self)
    }

    /// The `connector` entries of the tenant's change feed: the connectors named and the data.
    static func connectorHints(_ tenant: TenantID, msp: MSPID) async throws -> [(ids: Set<UUID>, data: String)] {
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                let rows = try await tx.query(
                    """
                    SELECT device_ids, data FROM change_feed
                    WHERE tenant_id = \(tenant.rawValue) AND event = 'connector' ORDER BY seq
                    """
                )
                var hints: [(ids: Set<UUID>, data: String)] = []
                for try await (ids, data) in rows.decode(([UUID], String).self) { hints.append((Set(ids), data)) }
                return hints
            }
        }
    }

    @Test("a connector connection names its connectors, stores no LDAP settings and hints them on every change")
    func connectorMode() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let one = try await TestConnectors.enroll("One", tenant: tenant, msp: world.msp, lastSeen: Date())
        let two = try await TestConnectors.enroll("Two", tenant: tenant, msp: world.msp)
        try await DirectoryAPITests.run { client in
            let base = "/v1/tenants/\(tenant)/directory/connections"
            let created = try await client.call(
                .post, base, key: key,
                body: Self.body([
                    "name": "Site A", "mode": "connector", "connector_ids": [one.description, two.description],
                    "enabled": false,
                ])
            )
            #expect(created.status == .created, "\(created.json)")
            #expect(created.json["mode"] as? String == "connector")
            #expect(created.json["connector_ids"] as? [String] == [one.description, two.description])
            #expect(created.json["urls"] == nil && created.json["bind_dn"] == nil && created.json["tls_mode"] == nil)
            #expect(created.json["has_password"] as? Double == 0)
            #expect(created.json["active_connector_id"] == nil)
            let id = try #require(created.json["id"] as? String)
            #expect(try await Self.connectorHints(tenant, msp: world.msp).map(\.ids) == [Set([one.rawValue, two.rawValue])])

            let connection = try #require(DirectoryConnectionID(id))
            try await TestConnectors.lease(connection, to: two, tenant: tenant, msp: world.msp)
            let read = try await client.call(.get, "\(base)/\(id)", key: key)
            #expect(read.json["active_connector_id"] as? String == two.description)

            // Changing the connectors tells the old and the new ones; renaming tells no one.
            let renamed = try await client.call(.patch, "\(base)/\(id)", key: key, body: #"{"name": "Site A (HQ)"}"#)
            #expect(renamed.status == .ok)
            #expect(try await Self.connectorHints(tenant, msp: world.msp).count == 1)
            let narrowed = try await client.call(
                .patch, "\(base)/\(id)", key: key, body: Self.body(["connector_ids": [one.description]])
            )
            #expect(narrowed.status == .ok, "\(narrowed.json)")
            #expect(narrowed.json["connector_ids"] as? [String] == [one.description])
            // The lease of a connector no longer named goes with it.
            #expect(narrowed.json["active_connector_id"] == nil)
            let hints = try await Self.connectorHints(tenant, msp: world.msp)
            #expect(hints.count == 2)
            #expect(hints.last?.ids == Set([one.rawValue, two.rawValue]))
            #expect(hints.last?.data == #"{"event":"configuration","data":{}}"#)
            let interval = try await client.call(.patch, "\(base)/\(id)", key: key, body: #"{"interval_seconds": 600}"#)
            #expect(interval.status == .ok)
            #expect(try await Self.connectorHints(tenant, msp: world.msp).last?.ids == [one.rawValue])

            let deleted = try await client.call(.delete, "\(base)/\(id)", key: key)
            #expect(deleted.status == .noContent)
            #expect(try await Self.connectorHints(tenant, msp: world.msp).count == 4)
        }
    }

    @Test("connector ids that are unknown, revoked or another tenant's, and LDAP values in connector mode, are refused")
    func refusals() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let live = try await TestConnectors.enroll("Live", tenant: tenant, msp: world.msp)
        let revoked = try await TestConnectors.enroll("Revoked", tenant: tenant, msp: world.msp, revoked: true)
        let foreign = try await TestConnectors.enroll("Foreign", tenant: world.tenants[1], msp: world.msp)
        let domain = TestDomain()
        try await DirectoryAPITests.run { client in
            let base = "/v1/tenants/\(tenant)/directory/connections"
            func create(_ object: [String: Any]) async throws -> Answer {
                try await client.call(.post, base, key: key, body: Self.body(["name": "Site", "enabled": false].merging(object) { $1 }))
            }
            for (ids, field) in [
                ([ConnectorID.random().description], "/connector_ids/0"),
                ([live.description, revoked.description], "/connector_ids/1"),
                ([foreign.description], "/connector_ids/0"),
                ([live.description, live.description], "/connector_ids/1"),
                (["not-a-uuid"], "/connector_ids/0"),
            ] {
                expectProblem(try await create(["mode": "connector", "connector_ids": ids]), 422, field: field)
            }
            expectProblem(try await create(["mode": "connector"]), 422, field: "/connector_ids")
            expectProblem(
                try await create(["mode": "connector", "connector_ids": [live.description], "urls": [domain.url]]), 422,
                field: "/urls"
            )
            expectProblem(
                try await create(["mode": "connector", "connector_ids": [live.description], "bind_password": "x"]), 422,
                field: "/bind_password"
            )
            // Mode direct is the default and still needs its LDAP settings, and names no connectors.
            expectProblem(try await create(["tls_mode": "plain"]), 422, field: "/urls")
            expectProblem(
                try await create([
                    "urls": [domain.url], "base_dn": domain.baseDN, "bind_dn": domain.bindDN,
                    "bind_password": domain.password, "tls_mode": "plain", "connector_ids": [live.description],
                ]),
                422, field: "/connector_ids"
            )
            #expect(try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.directoryConnections(of: tenant).list(after: nil, limit: 10).count
                }
            } == 0)
        }
    }

    @Test("a change of mode: to connector drops the LDAP settings; to direct needs all of them and the password")
    func modeChange() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let connector = try await TestConnectors.enroll("One", tenant: tenant, msp: world.msp)
        let domain = TestDomain()
        try await DirectoryAPITests.run { client in
            let base = "/v1/tenants/\(tenant)/directory/connections"
            let created = try await client.call(
                .post, base, key: key, body: DirectoryAPITests().connectionBody(base: domain.baseDN)
            )
            #expect(created.json["mode"] as? String == "direct")
            #expect(created.json["connector_ids"] as? [String] == [])
            let id = try #require(created.json["id"] as? String)
            expectProblem(
                try await client.call(.patch, "\(base)/\(id)", key: key, body: #"{"mode": "connector"}"#), 422,
                field: "/connector_ids"
            )
            let moved = try await client.call(
                .patch, "\(base)/\(id)", key: key,
                body: Self.body(["mode": "connector", "connector_ids": [connector.description]])
            )
            #expect(moved.status == .ok, "\(moved.json)")
            #expect(moved.json["mode"] as? String == "connector")
            #expect(moved.json["urls"] == nil && moved.json["has_password"] as? Double == 0)
            expectProblem(
                try await client.call(.patch, "\(base)/\(id)", key: key, body: #"{"bind_dn": "CN=x,DC=y"}"#), 422,
                field: "/bind_dn"
            )
            expectProblem(
                try await client.call(
                    .patch, "\(base)/\(id)", key: key,
                    body: Self.body([
                        "mode": "direct", "urls": [domain.url], "base_dn": domain.baseDN, "bind_dn": domain.bindDN,
                        "tls_mode": "plain",
                    ])
                ),
                422, field: "/bind_password"
            )
            let back = try await client.call(
                .patch, "\(base)/\(id)", key: key,
                body: Self.body([
                    "mode": "direct", "urls": [domain.url], "base_dn": domain.baseDN, "bind_dn": domain.bindDN,
                    "bind_password": domain.password, "tls_mode": "plain",
                ])
            )
            #expect(back.status == .ok, "\(back.json)")
            #expect(back.json["mode"] as? String == "direct")
            #expect(back.json["has_password"] as? Double == 1)
            #expect(back.json["connector_ids"] as? [String] == [])
        }
    }
    @Test("POST …/sync starts a connector run like a direct one; the run succeeds once the site has uploaded")
    func syncThroughAPI() async throws {
        let domain = TestDomain()
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "conn-api")
        _ = try await DirectorySyncTests().populate(ldap, ou)
        ldap.close()
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let connector = try await TestConnectors.enroll("One", tenant: tenant, msp: world.msp, lastSeen: Date())
        let site = TestSite(connector: try await TestConnectors.authenticated(connector), domain: domain, base: ou)
        try await DirectoryAPITests.run { client in
            let base = "/v1/tenants/\(tenant)/directory/connections"
            let created = try await client.call(
                .post, base, key: key,
                body: Self.body(["name": "Site A", "mode": "connector", "connector_ids": [connector.description], "enabled": false])
            )
            let id = try #require(created.json["id"] as? String)
            try await TestConnectors.lease(try #require(DirectoryConnectionID(id)), to: connector, tenant: tenant, msp: world.msp)
            let started = try await client.call(.post, "\(base)/\(id)/sync", key: key, body: #"{"kind": "full"}"#)
            #expect(started.status == .accepted, "\(started.json)")
            let runText = try #require(started.json["id"] as? String)
            let run = try #require(SyncRunID(runText))
            try await site.serve(run)
            var finished = started
            for _ in 0..<300 where finished.json["status"] as? String == "running" {
                // The run merges in the service's background, as a client polls it.
                try await Task.sleep(for: .milliseconds(100))
                finished = try await client.call(.get, "/v1/tenants/\(tenant)/directory/sync-runs/\(run)", key: key)
            }
            #expect(finished.json["status"] as? String == "succeeded", "\(finished.json)")
            let users = try await client.call(.get, "/v1/tenants/\(tenant)/directory/users", key: key)
            #expect(users.items.count == 3)
        }
    }
}
