import CharterCore
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

@Suite("Identity provider configuration")
struct IdentityProviderAPITests {
    static let body = #"""
        {"issuer":"https://login.msp.test/realms/msp","client_id":"charter","client_secret":"s3cret-value",
         "allowed_email_domains":["MSP.test","msp-support.test"],"groups_claim":"groups"}
        """#

    @Test("an owner configures the provider; the secret is sealed, never returned, and the change is audited")
    func configure() async throws {
        let world = try await TestApp.makeWorld(tenants: 0)
        let path = "/v1/msps/\(world.msp)/identity-provider"
        try await TestApp.run(TestApp.sealingConfig) { client in
            expectProblem(try await client.call(.get, path, key: world.mspKey), 404)
            let put = try await client.call(.put, path, key: world.mspKey, body: Self.body)
            #expect(put.status == .ok, "\(put.json)")
            #expect(put.json["client_secret_set"] as? Double == 1)
            #expect(put.json["client_secret"] == nil)
            #expect(put.json["allowed_email_domains"] as? [String] == ["msp.test", "msp-support.test"])
            let read = try await client.call(.get, path, key: world.mspKey)
            #expect(read.json["issuer"] as? String == "https://login.msp.test/realms/msp")
            #expect(read.json["client_secret"] == nil)

            // The domains change without the secret: the issuer and client id stay, so the stored one is kept.
            let domains = try await client.call(
                .put, path, key: world.mspKey,
                body: #"{"issuer":"https://login.msp.test/realms/msp","client_id":"charter","allowed_email_domains":["msp.test"]}"#
            )
            #expect(domains.status == .ok)
            #expect(domains.json["version"] as? Double == 2)
            #expect(domains.json["groups_claim"] as? String == "groups")

            #expect(try await client.call(.delete, path, key: world.mspKey).status == .noContent)
            expectProblem(try await client.call(.get, path, key: world.mspKey), 404)
            expectProblem(try await client.call(.delete, path, key: world.mspKey), 404)
        }
        let audit = try await TestApp.withOwner { database in
            try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                var rows: [(String, String?)] = []
                for try await row in try await tx.query(
                    "SELECT action, after::text FROM msp_audit_events WHERE msp_id = \(world.msp.rawValue) ORDER BY seq"
                ).decode((String, String?).self) { rows.append(row) }
                return rows
            }
        }
        #expect(audit.map(\.0).suffix(3) == ["identity_provider.configured", "identity_provider.configured", "identity_provider.deleted"])
        #expect(audit.allSatisfy { !($0.1 ?? "").contains("s3cret-value") })
        let stored = try await TestApp.withOwner { database in
            try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                try await tx.query("SELECT count(*) FROM identity_providers WHERE msp_id = \(world.msp.rawValue)")
                    .collect().first?.decode(Int64.self)
            }
        }
        #expect(stored == 0)
    }

    @Test("the secret is needed again when the issuer or client id changes")
    func secretBoundToProvider() async throws {
        let world = try await TestApp.makeWorld(tenants: 0)
        let path = "/v1/msps/\(world.msp)/identity-provider"
        try await TestApp.run(TestApp.sealingConfig) { client in
            let first = try await client.call(
                .put, path, key: world.mspKey,
                body: #"{"issuer":"https://login.msp.test","client_id":"charter","allowed_email_domains":["msp.test"]}"#
            )
            expectProblem(first, 422, field: "/client_secret")
            #expect(try await client.call(.put, path, key: world.mspKey, body: Self.body).status == .ok)
            for body in [
                #"{"issuer":"https://evil.test","client_id":"charter","allowed_email_domains":["msp.test"]}"#,
                #"{"issuer":"https://login.msp.test/realms/msp","client_id":"other","allowed_email_domains":["msp.test"]}"#,
            ] {
                expectProblem(try await client.call(.put, path, key: world.mspKey, body: body), 422, field: "/client_secret")
            }
            let read = try await client.call(.get, path, key: world.mspKey)
            #expect(read.json["version"] as? Double == 1)
        }
    }

    @Test(
        "each unacceptable value is a 422 naming its field",
        arguments: [
            (#"{"issuer":"http://login.msp.test","client_id":"c","client_secret":"s","allowed_email_domains":["msp.test"]}"#, "/issuer"),
            (#"{"issuer":"http://127.0.0.1:8080","client_id":"c","client_secret":"s","allowed_email_domains":["msp.test"]}"#, "/issuer"),
            (#"{"issuer":"https://a.test/#x","client_id":"c","client_secret":"s","allowed_email_domains":["msp.test"]}"#, "/issuer"),
            (#"{"issuer":"https://a.test","client_id":"c","client_secret":"s","allowed_email_domains":["msp.test","@x"]}"#, "/allowed_email_domains/1"),
            (#"{"issuer":"https://a.test","client_id":"c","client_secret":"s","allowed_email_domains":["msp.test"],"groups_claim":"a b"}"#, "/groups_claim"),
        ]
    )
    func invalid(_ body: String, _ field: String) async throws {
        let world = try await TestApp.makeWorld(tenants: 0)
        try await TestApp.run(TestApp.sealingConfig) { client in
            let answer = try await client.call(.put, "/v1/msps/\(world.msp)/identity-provider", key: world.mspKey, body: body)
            expectProblem(answer, 422, field: field)
        }
    }

    @Test("only the MSP's owners see or change it: a tenant's owner gets 403, another MSP's 404")
    func ownersOnly() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let other = try await TestApp.makeWorld(tenants: 0)
        let path = "/v1/msps/\(world.msp)/identity-provider"
        try await TestApp.run(TestApp.sealingConfig) { client in
            #expect(try await client.call(.put, path, key: world.mspKey, body: Self.body).status == .ok)
            expectProblem(try await client.call(.get, path, key: world.tenantKeys[0]), 403)
            expectProblem(try await client.call(.put, path, key: world.tenantKeys[0], body: Self.body), 403)
            expectProblem(try await client.call(.delete, path, key: world.tenantKeys[0]), 403)
            expectProblem(try await client.call(.get, path, key: other.mspKey), 404)
            expectProblem(try await client.call(.delete, path, key: other.mspKey), 404)
            #expect(try await client.call(.get, path, key: world.mspKey).status == .ok)
        }
    }

    @Test("without a key-encryption key a provider cannot be configured (503)")
    func withoutKEK() async throws {
        let world = try await TestApp.makeWorld(tenants: 0)
        try await TestApp.run { client in
            expectProblem(
                try await client.call(.put, "/v1/msps/\(world.msp)/identity-provider", key: world.mspKey, body: Self.body),
                503
            )
        }
    }
}
