import CharterCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// `Idempotency-Key` on the admin API's POSTs and the agent's: retries return the first answer and create
/// nothing (docs/api.md, "Retries and Idempotency-Key").
@Suite("Idempotency keys")
struct IdempotencyTests {
    /// An answer byte for byte: what a replay must reproduce.
    struct RawAnswer: Sendable, Equatable {
        var status: HTTPResponse.Status
        var contentType: String?
        var location: String?
        var etag: String?
        var body: String
    }

    static func post(
        _ client: some TestClientProtocol, _ uri: String, key: String, idempotencyKey: String?, body: String
    ) async throws -> RawAnswer {
        var headers: HTTPFields = [.authorization: "Bearer \(key)", .contentType: "application/json"]
        if let idempotencyKey { headers[HTTPField.Name("Idempotency-Key")!] = idempotencyKey }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) {
            RawAnswer(
                status: $0.status, contentType: $0.headers[.contentType], location: $0.headers[.location],
                etag: $0.headers[.eTag], body: String(buffer: $0.body)
            )
        }
    }

    static func keyCount(_ client: some TestClientProtocol, tenant: TenantID, key: String) async throws -> Int {
        try await client.call(.get, "/v1/tenants/\(tenant)/api-keys?limit=200", key: key).items.count
    }

    @Test("a retried admin create creates one key and returns the identical answer, secret included")
    func retriedAdminCreate() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            let before = try await Self.keyCount(client, tenant: tenant, key: world.mspKey)
            let uri = "/v1/tenants/\(tenant)/api-keys"
            let body = #"{"name":"ci","role":"auditor"}"#
            let first = try await Self.post(client, uri, key: world.mspKey, idempotencyKey: "create-ci-1", body: body)
            let retry = try await Self.post(client, uri, key: world.mspKey, idempotencyKey: "create-ci-1", body: body)
            #expect(first.status == .created)
            #expect(retry == first)
            #expect(try await Self.keyCount(client, tenant: tenant, key: world.mspKey) == before + 1)
            // Without a key, the same request is a new create.
            let plain = try await Self.post(client, uri, key: world.mspKey, idempotencyKey: nil, body: body)
            #expect(plain.status == .created && plain.body != first.body)
        }
    }

    @Test("the same key with another body or path answers 422 naming Idempotency-Key and creates nothing")
    func mismatchedReuse() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            let uri = "/v1/tenants/\(tenant)/api-keys"
            let first = try await Self.post(
                client, uri, key: world.mspKey, idempotencyKey: "k-422", body: #"{"name":"one","role":"auditor"}"#
            )
            #expect(first.status == .created)
            let count = try await Self.keyCount(client, tenant: tenant, key: world.mspKey)
            for (path, body) in [
                (uri, #"{"name":"two","role":"auditor"}"#), ("/v1/msps/\(world.msp)/api-keys", #"{"name":"one","role":"auditor"}"#),
            ] {
                var headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "k-422"]
                headers[.contentType] = "application/json"
                expectProblem(
                    try await client.call(.post, path, key: world.mspKey, body: body, headers: headers), 422,
                    field: "Idempotency-Key"
                )
            }
            #expect(try await Self.keyCount(client, tenant: tenant, key: world.mspKey) == count)
        }
    }

    @Test("a key of one credential never replays for another, in the same tenant or another one")
    func scopedToCredential() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        try await TestApp.run { client in
            let body = #"{"name":"ops","role":"auditor"}"#
            let uri = "/v1/tenants/\(world.tenants[0])/api-keys"
            let first = try await Self.post(client, uri, key: world.tenantKeys[0], idempotencyKey: "shared", body: body)
            #expect(first.status == .created)
            // A second owner of the same tenant, same key, same request: its own create.
            let owner = try await client.call(
                .post, uri, key: world.mspKey, body: #"{"name":"second owner","role":"owner"}"#
            )
            let secondKey = try #require(owner.json["secret"] as? String)
            let other = try await Self.post(client, uri, key: secondKey, idempotencyKey: "shared", body: body)
            #expect(other.status == .created && other.body != first.body)
            // The MSP-wide key, same key and request: its own create too.
            let msp = try await Self.post(client, uri, key: world.mspKey, idempotencyKey: "shared", body: body)
            #expect(msp.status == .created && msp.body != first.body && msp.body != other.body)
            // Another tenant's owner, same key, its own tenant.
            let elsewhere = try await Self.post(
                client, "/v1/tenants/\(world.tenants[1])/api-keys", key: world.tenantKeys[1], idempotencyKey: "shared",
                body: body
            )
            #expect(elsewhere.status == .created)
            // And the first credential still gets its own first answer.
            #expect(try await Self.post(client, uri, key: world.tenantKeys[0], idempotencyKey: "shared", body: body) == first)
        }
    }

    @Test(
        "a malformed key answers 400 naming Idempotency-Key",
        arguments: ["", String(repeating: "k", count: 256), "café", "two words", "tab\there"]
    )
    func malformedKey(key: String) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            var headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: key]
            headers[.contentType] = "application/json"
            expectProblem(
                try await client.call(
                    .post, "/v1/tenants/\(world.tenants[0])/api-keys", key: world.mspKey,
                    body: #"{"name":"x","role":"auditor"}"#, headers: headers
                ),
                400, field: "Idempotency-Key"
            )
        }
    }

    @Test("a failed create keeps no answer: its retry runs again and can succeed")
    func failuresAreNotKept() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let uri = "/v1/msps/\(world.msp)/tenants"
            let taken = #"{"name":"Tenant 0"}"#
            let conflict = try await Self.post(client, uri, key: world.mspKey, idempotencyKey: "t-1", body: taken)
            #expect(conflict.status == .conflict)
            let renamed = try await client.call(
                .patch, "/v1/tenants/\(world.tenants[0])", key: world.mspKey, body: #"{"name":"Renamed"}"#
            )
            try #require(renamed.status == .ok, "\(renamed.json)")
            let again = try await Self.post(client, uri, key: world.mspKey, idempotencyKey: "t-1", body: taken)
            #expect(again.status == .created)
        }
    }

    @Test("a retried agent request creates one request and returns the identical answer")
    func retriedAgentRequest() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let first = try await Self.post(
                client, "/v1/agent/requests", key: setup.device.token, idempotencyKey: "req-1", body: RequestTests.installer
            )
            let retry = try await Self.post(
                client, "/v1/agent/requests", key: setup.device.token, idempotencyKey: "req-1", body: RequestTests.installer
            )
            #expect(first.status.code < 300, "\(first.body)")
            #expect(retry == first)
            let requests = try await client.call(.get, "/v1/tenants/\(setup.tenant)/requests", key: setup.key)
            #expect(requests.items.count == 1)
        }
    }
}
