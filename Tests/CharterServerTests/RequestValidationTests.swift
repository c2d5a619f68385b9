import CharterCore
@testable import CharterServer
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
        Case(name: "null member", body: #"{"name":"ok","expires_at":null}"#, status: 400, field: "/expires_at"),
        Case(name: "U+0000 in text", body: #"{"name":"a\u0000b"}"#, status: 400, field: "/name"),
        Case(name: "format character in a name", body: "{\"name\":\"a\u{200B}b\"}", status: 422, field: "/name"),
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
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/tenants?limit=abc", key: world.mspKey), 400, field: "limit")
            expectProblem(
                try await client.call(.get, "/v1/msps/\(world.msp)/tenants?limit=99999999999999999999", key: world.mspKey),
                400, field: "limit"
            )
            let subsettings = "/v1/tenants/\(world.tenants[0])/subsettings?position=4211254415142019923968"
            expectProblem(try await client.call(.post, subsettings, key: world.mspKey, body: "{}"), 400, field: "position")
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/tenants?cursor=%%%", key: world.mspKey), 400, field: "cursor")
            expectProblem(try await client.call(.get, "/v1/tenants/\(world.tenants[0])/audit-events?from=yesterday", key: world.mspKey), 400)
            expectProblem(try await client.call(.patch, "/v1/tenants/\(world.tenants[0])", key: world.mspKey,
                                                body: #"{"name":"x"}"#, headers: [.ifMatch: "garbage"]), 412, field: "If-Match")
            expectProblem(try await client.call(.patch, "/v1/tenants/\(world.tenants[0])", key: world.mspKey,
                                                body: #"{"name":"x"}"#, headers: [.ifMatch: String(repeating: "v", count: 101)]),
                          400, field: "If-Match")
            expectProblem(try await client.call(.get, "/v1/no-such-route", key: world.mspKey), 404)
            let tenants = "/v1/msps/\(world.msp)/tenants"
            #expect(try await client.call(.get, "\(tenants)?cursor=\(UUID())", key: world.mspKey).status == .ok,
                    "a cursor of the documented form names a position")
            expectProblem(try await client.call(.get, "\(tenants)?cursor=MTIz", key: world.mspKey), 400, field: "cursor")
            let requests = "/v1/tenants/\(world.tenants[0])/requests"
            #expect(try await client.call(.get, "\(requests)?from=2026-01-02T03:04:05.678%2B02:00", key: world.mspKey).status == .ok,
                    "RFC 3339 date-times with fractional seconds and offsets are read")
            #expect(try await client.call(.get, "\(requests)?cursor=1765049944000000_\(UUID())", key: world.mspKey).status == .ok)
            expectProblem(try await client.call(.get, "\(requests)?user=\(String(repeating: "u", count: 1025))", key: world.mspKey),
                          400, field: "user")
            expectProblem(try await client.call(.get, "/v1/tenants/\(world.tenants[0])/audit-events?action=%00", key: world.mspKey),
                          400)
        }
    }
}

@Suite("Wire rules")
struct WireRulesTests {
    @Test("the middleware checks exactly the query parameters openapi.yaml types as integers")
    func integerQueryParameters() throws {
        let document = try String(
            contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../Sources/CharterServer/openapi.yaml"),
            encoding: .utf8
        )
        // A parameter is declared as `name:` then `in: query` and its schema on the following lines.
        let lines = document.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var integers: Set<String> = []
        for (index, line) in lines.enumerated() where line.contains("in: query") {
            let declared = line.contains("name:") ? line : lines[index - 1]
            guard let name = declared.split(separator: "name:").last?.split(separator: ",").first?
                .trimmingCharacters(in: .whitespaces)
            else { continue }
            let declaration = lines[index..<min(index + 4, lines.count)].joined(separator: " ")
            if declaration.contains("type: integer") { integers.insert(name) }
        }
        #expect(integers == WireRulesMiddleware.integerQueryParameters)
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
