import CharterCore
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// A sealed bind password is bound to the destination it was given for (issue 14, item 1).
@Suite("Directory connection destinations")
struct DirectoryDestinationTests {
    let domain = TestDomain()

    /// The stored row as the database has it, sealed password included, and how many updates were audited.
    static func stored(_ world: TestApp.World, _ id: String) async throws -> (row: [String], updates: Int) {
        try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                var row: [String] = []
                let rows = try await tx.query(
                    """
                    SELECT array_to_string(urls, ' '), tls_mode, coalesce(ca_pem, ''), bind_dn, bind_password_sealed,
                           version::text
                    FROM directory_connections WHERE id = \(UUID(uuidString: id))
                    """
                )
                for try await values in rows.decode((String, String, String, String, String, String).self) {
                    row = [values.0, values.1, values.2, values.3, values.4, values.5]
                }
                let audits = try await tx.query(
                    """
                    SELECT count(*)::int FROM audit_events
                    WHERE action = 'directory_connection.updated' AND target_id = \(id)
                    """
                )
                var updates = 0
                for try await count in audits.decode(Int.self) { updates = count }
                return (row, updates)
            }
        }
    }

    static let caPEM = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"

    @Test(
        "changing urls, tls_mode, ca_pem or bind_dn without bind_password is refused and changes nothing",
        arguments: [
            #"{"urls":["ldap://198.51.100.9"]}"#,
            #"{"urls":["ldap://127.0.0.2","ldap://198.51.100.9"]}"#,
            #"{"tls_mode":"start_tls"}"#,
            #"{"ca_pem":"\#(caPEM)"}"#,
            #"{"bind_dn":"CN=Someone Else,CN=Users,DC=charter,DC=test"}"#,
            #"{"urls":["ldaps://198.51.100.9"],"tls_mode":"ldaps","name":"renamed"}"#,
        ]
    )
    func refusedWithoutPassword(patch: String) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let key = world.tenantKeys[0]
        try await DirectoryAPITests.run { client in
            let base = "/v1/tenants/\(world.tenants[0])/directory/connections"
            let created = try await client.call(
                .post, base, key: key, body: DirectoryAPITests().connectionBody(base: domain.baseDN)
            )
            #expect(created.status == .created)
            let id = try #require(created.json["id"] as? String)
            let before = try await Self.stored(world, id)

            let refused = try await client.call(.patch, "\(base)/\(id)", key: key, body: patch)
            expectProblem(refused, 422, field: "/bind_password")
            let after = try await Self.stored(world, id)
            #expect(after.row == before.row)
            #expect(after.updates == 0)

            let withPassword = String(patch.dropLast()) + #","bind_password":"another secret"}"#
            let accepted = try await client.call(.patch, "\(base)/\(id)", key: key, body: withPassword)
            #expect(accepted.status == .ok, "\(accepted.json)")
            let changed = try await Self.stored(world, id)
            #expect(changed.row != before.row)
            #expect(changed.row[4] != before.row[4])
            #expect(changed.updates == 1)
        }
    }

    @Test("restating the current destination, or changing anything else, needs no password")
    func unchangedDestination() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let key = world.tenantKeys[0]
        try await DirectoryAPITests.run { client in
            let base = "/v1/tenants/\(world.tenants[0])/directory/connections"
            let created = try await client.call(
                .post, base, key: key, body: DirectoryAPITests().connectionBody(base: domain.baseDN)
            )
            let id = try #require(created.json["id"] as? String)
            let before = try await Self.stored(world, id)
            let same = #"{"urls":["\#(domain.url)"],"tls_mode":"plain","bind_dn":"\#(domain.bindDN)","name":"Renamed"}"#
            let accepted = try await client.call(.patch, "\(base)/\(id)", key: key, body: same)
            #expect(accepted.status == .ok, "\(accepted.json)")
            #expect(accepted.json["name"] as? String == "Renamed")
            let after = try await Self.stored(world, id)
            #expect(after.row[4] == before.row[4])
            #expect(after.updates == 1)
        }
    }
}
