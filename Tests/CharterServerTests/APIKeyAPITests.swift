import CharterCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@Suite("API keys and roles")
struct APIKeyAPITests {
    @Test("a created key works at once, is listed without its secret, and stops working when revoked")
    func createListRevoke() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            let created = try await client.call(
                .post, "/v1/tenants/\(tenant)/api-keys", key: world.mspKey, body: #"{"name":"auditor","role":"auditor"}"#)
            #expect(created.status == .created)
            let secret = try #require(created.json["secret"] as? String)
            let keyID = try #require((created.json["key"] as? [String: any Sendable])?["id"] as? String)
            #expect(try await client.call(.get, "/v1/tenants/\(tenant)", key: secret).status == .ok)

            let list = try await client.call(.get, "/v1/tenants/\(tenant)/api-keys", key: world.mspKey)
            #expect(list.items.contains { $0["id"] as? String == keyID })
            #expect(list.items.allSatisfy { $0["secret"] == nil })

            let revoked = try await client.call(.delete, "/v1/tenants/\(tenant)/api-keys/\(keyID)", key: world.mspKey)
            #expect(revoked.status == .noContent)
            expectProblem(try await client.call(.get, "/v1/tenants/\(tenant)", key: secret), 401)
        }
    }

    @Test("roles and scopes are enforced with 403")
    func roles() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            let auditor = try await client.call(
                .post, "/v1/msps/\(world.msp)/api-keys", key: world.mspKey, body: #"{"name":"msp auditor","role":"auditor"}"#)
            let auditorKey = try #require(auditor.json["secret"] as? String)
            expectProblem(
                try await client.call(.post, "/v1/msps/\(world.msp)/tenants", key: auditorKey, body: #"{"name":"x"}"#), 403)
            #expect(try await client.call(.get, "/v1/msps/\(world.msp)/tenants", key: auditorKey).status == .ok)
            // A tenant-scoped owner sees neither the MSP's tenant list nor MSP-wide keys.
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/tenants", key: world.tenantKeys[0]), 403)
            expectProblem(
                try await client.call(
                    .post, "/v1/msps/\(world.msp)/api-keys", key: world.tenantKeys[0], body: #"{"name":"x","role":"owner"}"#),
                403)
            // An approver cannot mint an owner.
            let approver = try await client.call(
                .post, "/v1/tenants/\(tenant)/api-keys", key: world.mspKey, body: #"{"name":"approver","role":"approver"}"#)
            let approverKey = try #require(approver.json["secret"] as? String)
            expectProblem(
                try await client.call(
                    .post, "/v1/tenants/\(tenant)/api-keys", key: approverKey, body: #"{"name":"x","role":"owner"}"#), 403)
        }
    }

    @Test("requests without a valid key get 401 with a WWW-Authenticate challenge", arguments: [
        nil, "Bearer nonsense", "Basic dXNlcjpwYXNz",
        "Bearer chtr_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ])
    func unauthenticated(authorization: String?) async throws {
        try await TestApp.run { client in
            let answer = try await client.call(
                .get, "/v1/whoami", headers: authorization.map { [.authorization: $0] } ?? [:])
            expectProblem(answer, 401)
            #expect(answer.headers[.wwwAuthenticate] == "Bearer realm=\"charter\"")
        }
    }
}
