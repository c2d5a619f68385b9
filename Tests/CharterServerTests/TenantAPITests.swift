import CharterCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("Tenants API")
struct TenantAPITests {
    @Test("whoami describes the key's principal")
    func whoami() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let msp = try await client.call(.get, "/v1/whoami", key: world.mspKey)
            #expect(msp.status == .ok)
            #expect(msp.json["role"] as? String == "owner")
            #expect(msp.json["msp_id"] as? String == world.msp.description)
            #expect(msp.json["tenant_id"] == nil)
            let tenant = try await client.call(.get, "/v1/whoami", key: world.tenantKeys[0])
            #expect(tenant.json["tenant_id"] as? String == world.tenants[0].description)
        }
    }

    @Test("create, list with cursor pagination, get, rename with If-Match and delete")
    func lifecycle() async throws {
        let world = try await TestApp.makeWorld(tenants: 0)
        try await TestApp.run { client in
            var created: [String] = []
            for index in 0..<5 {
                let answer = try await client.call(
                    .post, "/v1/msps/\(world.msp)/tenants", key: world.mspKey, body: #"{"name":"Customer \#(index)"}"#)
                #expect(answer.status == .created)
                #expect(answer.headers[.eTag] == "\"v1\"")
                created.append(try #require(answer.json["id"] as? String))
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\($0)" } ?? ""
                let page = try await client.call(.get, "/v1/msps/\(world.msp)/tenants?limit=2\(query)", key: world.mspKey)
                #expect(page.status == .ok)
                #expect(page.items.count <= 2)
                seen += page.items.compactMap { $0["id"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(Set(seen) == Set(created))
            #expect(seen.count == created.count)

            let id = created[0]
            let read = try await client.call(.get, "/v1/tenants/\(id)", key: world.mspKey)
            let etag = try #require(read.headers[.eTag])
            let renamed = try await client.call(
                .patch, "/v1/tenants/\(id)", key: world.mspKey, body: #"{"name":"Renamed"}"#, headers: [.ifMatch: etag])
            #expect(renamed.status == .ok)
            #expect(renamed.json["name"] as? String == "Renamed")
            #expect(renamed.headers[.eTag] == "\"v2\"")

            let stale = try await client.call(
                .patch, "/v1/tenants/\(id)", key: world.mspKey, body: #"{"name":"Again"}"#, headers: [.ifMatch: etag])
            expectProblem(stale, 412, field: "If-Match")
            let unchanged = try await client.call(.get, "/v1/tenants/\(id)", key: world.mspKey)
            #expect(unchanged.json["name"] as? String == "Renamed")

            let duplicate = try await client.call(
                .post, "/v1/msps/\(world.msp)/tenants", key: world.mspKey, body: #"{"name":"renamed"}"#)
            expectProblem(duplicate, 409, field: "/name")

            let deleted = try await client.call(.delete, "/v1/tenants/\(id)", key: world.mspKey)
            #expect(deleted.status == .noContent)
            expectProblem(try await client.call(.get, "/v1/tenants/\(id)", key: world.mspKey), 404)
        }
    }

    @Test("every write lands in the tenant's audit log, whose chain verifies")
    func auditTrail() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            _ = try await client.call(.patch, "/v1/tenants/\(tenant)", key: world.mspKey, body: #"{"name":"Audited"}"#)
            _ = try await client.call(
                .post, "/v1/tenants/\(tenant)/api-keys", key: world.mspKey, body: #"{"name":"helpdesk","role":"approver"}"#)
            let log = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events", key: world.tenantKeys[0])
            #expect(log.status == .ok)
            let actions = log.items.compactMap { $0["action"] as? String }
            #expect(actions.prefix(2) == ["api_key.created", "tenant.renamed"])
            let renamed = try #require(log.items.first { $0["action"] as? String == "tenant.renamed" })
            #expect((renamed["before"] as? [String: any Sendable])?["name"] as? String == "Tenant 0")
            #expect((renamed["after"] as? [String: any Sendable])?["name"] as? String == "Audited")
            let actor = try #require(renamed["actor"] as? [String: any Sendable])
            #expect(actor["request_id"] != nil)
            let filtered = try await client.call(
                .get, "/v1/tenants/\(tenant)/audit-events?action=tenant.renamed", key: world.mspKey)
            #expect(filtered.items.count == 1)
            let verify = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events/verify", key: world.mspKey)
            #expect(verify.json["valid"] as? Double == 1)
            #expect((verify.json["events_checked"] as? Double ?? 0) >= 4)
        }
    }
}
