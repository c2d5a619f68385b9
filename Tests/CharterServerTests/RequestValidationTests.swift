import CharterCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Bad input gets 4xx problem documents")
struct RequestValidationTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var body: String
        var status: Int
        var field: String?
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "malformed JSON", body: #"{"name": "#, status: 400, field: nil),
        Case(name: "not an object", body: #"[1,2]"#, status: 400, field: nil),
        Case(name: "wrong type", body: #"{"name": 42}"#, status: 400, field: "/name"),
        Case(name: "missing field", body: #"{}"#, status: 400, field: "/name"),
        Case(name: "unknown field", body: #"{"name":"ok","colour":"red"}"#, status: 400, field: nil),
        Case(name: "empty name", body: #"{"name":"   "}"#, status: 422, field: "/name"),
        Case(name: "too long name", body: "{\"name\":\"\(String(repeating: "x", count: 201))\"}", status: 422, field: "/name"),
        Case(name: "oversized body", body: "{\"name\":\"\(String(repeating: "x", count: 5000))\"}", status: 413, field: nil),
    ]

    @Test("bodies", arguments: cases)
    func bodies(_ testCase: Case) async throws {
        let world = try await TestApp.makeWorld(tenants: 0)
        try await TestApp.run { client in
            let answer = try await client.call(.post, "/v1/msps/\(world.msp)/tenants", key: world.mspKey, body: testCase.body)
            expectProblem(answer, testCase.status, field: testCase.field)
            let list = try await client.call(.get, "/v1/msps/\(world.msp)/tenants", key: world.mspKey)
            #expect(list.items.isEmpty, "nothing may be written")
        }
    }

    @Test("parameters and ids")
    func parameters() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            expectProblem(try await client.call(.get, "/v1/tenants/not-a-uuid", key: world.mspKey), 400, field: "tenant")
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/tenants?limit=0", key: world.mspKey), 400, field: "limit")
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/tenants?limit=abc", key: world.mspKey), 400)
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/tenants?cursor=%%%", key: world.mspKey), 400, field: "cursor")
            expectProblem(try await client.call(.get, "/v1/tenants/\(world.tenants[0])/audit-events?from=yesterday", key: world.mspKey), 400)
            expectProblem(try await client.call(.patch, "/v1/tenants/\(world.tenants[0])", key: world.mspKey,
                                                body: #"{"name":"x"}"#, headers: [.ifMatch: "garbage"]), 412, field: "If-Match")
            expectProblem(try await client.call(.get, "/v1/no-such-route", key: world.mspKey), 404)
        }
    }
}

@Suite("Operational routes")
struct OperationsTests {
    @Test("health, readiness, metrics and the API document answer without a key")
    func operational() async throws {
        try await TestApp.withOwner { _ in }
        try await TestApp.run { client in
            let health = try await client.execute(uri: "/healthz", method: .get) { $0.status }
            #expect(health == .ok)
            let ready = try await client.execute(uri: "/readyz", method: .get) { String(buffer: $0.body) }
            #expect(ready == "ready\n")
            let metrics = try await client.execute(uri: "/metrics", method: .get) { $0.status }
            #expect(metrics == .ok)
            let document = try await client.execute(uri: "/openapi.yaml", method: .get) { String(buffer: $0.body) }
            #expect(document.hasPrefix("openapi: 3.1.0"))
            let problem = try await client.execute(uri: "/docs/problems/not-found.md", method: .get) { String(buffer: $0.body) }
            #expect(problem.hasPrefix("# Not found"))
        }
    }
}
