import CharterCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Every route of the API document, tried with tenant A's key against tenant B (and MSP 1's key against MSP 2).
@Suite("Tenant isolation over every route")
struct IsolationTests {
    struct Route: Sendable, CustomStringConvertible {
        var method: HTTPRequest.Method
        var template: String
        var description: String { "\(method) \(template)" }
    }

    /// The operations of openapi.yaml, read from the document itself so a new route cannot be forgotten.
    static let routes: [Route] = {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CharterServer/openapi.yaml")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var routes: [Route] = []
        var path: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /") && line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("components:") {
                path = nil
            } else if let current = path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                let method = HTTPRequest.Method(String(line.dropFirst(4).dropLast()).uppercased()),
                ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(method.rawValue)
            {
                routes.append(Route(method: method, template: current))
            }
        }
        return routes
    }()

    /// A body the route would accept from an authorised caller, so only authorisation can refuse it.
    static func validBody(for route: Route) -> String? {
        switch (route.method, route.template) {
        case (.get, _), (.delete, _): nil
        case (.post, let path) where path.hasSuffix("/tenants"): #"{"name":"pwned"}"#
        case (.post, let path) where path.hasSuffix("/api-keys"): #"{"name":"pwned","role":"auditor"}"#
        case (.patch, "/v1/tenants/{tenant}"): #"{"name":"pwned"}"#
        default: "{}"
        }
    }

    @Test("the route list was read from the document")
    func routesFound() {
        #expect(Self.routes.count >= 16)
    }

    @Test("a key of tenant A can neither read nor change anything of tenant B")
    func tenantKeyCannotReachOtherTenant() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let victim = world.tenants[1]
        let other = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let before = try await client.call(.get, "/v1/tenants/\(victim)/audit-events", key: world.tenantKeys[1])
            for route in Self.routes {
                let uri = route.template
                    .replacingOccurrences(of: "{tenant}", with: victim.description)
                    .replacingOccurrences(of: "{msp}", with: other.msp.description)
                    .replacingOccurrences(of: "{key}", with: UUID().uuidString.lowercased())
                for key in [world.tenantKeys[0], world.mspKey] where !(key == world.mspKey && uri.contains(victim.description)) {
                    let body = Self.validBody(for: route)
                    let answer = try await client.call(route.method, uri, key: key, body: body)
                    if uri.contains("/v1/whoami") { continue }
                    // A body this test cannot make valid may be refused before authorisation; that reveals nothing.
                    let allowed: Set<Int> = body == "{}" ? [400, 403, 404, 422] : [403, 404]
                    #expect(allowed.contains(answer.status.code), "\(route) answered \(answer.status.code)")
                    #expect(!"\(answer.json)".contains(victim.description), "\(route) leaked the victim's id")
                }
            }
            let tenant = try await client.call(.get, "/v1/tenants/\(victim)", key: world.tenantKeys[1])
            #expect(tenant.json["name"] as? String == "Tenant 1")
            let after = try await client.call(.get, "/v1/tenants/\(victim)/audit-events", key: world.tenantKeys[1])
            #expect(after.items.count == before.items.count)
        }
    }
}
