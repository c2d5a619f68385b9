import CharterCore
import CharterServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// A subsetting document as the API takes it.
func subsettingBody(
    name: String,
    target: String = "user",
    enabled: Bool = true,
    groups: [ObjectGUID] = [],
    ous: [ObjectGUID] = [],
    overrides: String = #"{"run_as_admin":{"mode":"audit_only"}}"#
) -> String {
    let groups = groups.map { "\"\($0)\"" }.joined(separator: ",")
    let ous = ous.map { "\"\($0)\"" }.joined(separator: ",")
    return """
        {"schema_version":1,"name":"\(name)","enabled":\(enabled),"target":"\(target)",\
        "scope":{"groups":[\(groups)],"ous":[\(ous)]},"overrides":\(overrides)}
        """
}

extension Answer {
    /// A nested member by path, e.g. `value("run_as_admin", "mode")`.
    func value(_ path: String...) -> (any Sendable)? {
        var current: (any Sendable)? = json
        for key in path {
            current = (current as? [String: any Sendable])?[key]
        }
        return current
    }

    var errorPointers: [String] {
        ((json["errors"] as? [[String: any Sendable]]) ?? []).compactMap { $0["pointer"] as? String }
    }
}

@Suite("Global settings API")
struct SettingsAPITests {
    @Test("a new tenant has the restrictive defaults at version 0")
    func defaults() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let answer = try await client.call(
                .get,
                "/v1/tenants/\(world.tenants[0])/settings",
                key: world.tenantKeys[0]
            )
            #expect(answer.status == .ok)
            #expect(answer.headers[.eTag] == "\"v0\"")
            #expect(answer.value("schema_version") as? Double == 1)
            #expect(answer.value("run_as_admin", "mode") as? String == "approval_required")
            #expect(answer.value("admin_session", "mode") as? String == "approval_required")
            #expect(answer.value("admin_session", "workstation_duration_minutes") as? Double == 15)
            #expect((answer.value("pre_approved_applications") as? [any Sendable])?.isEmpty == true)
        }
    }

    @Test("replace with If-Match, a stale If-Match gets 412, and the audit log has before and after")
    func replace() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let document = """
            {"schema_version":1,"run_as_admin":{"mode":"reason_required"},
             "pre_approved_applications":[{"file_name":"setup.exe","kind":"installer","applies_to":["run_as_admin"],
               "protection":{"type":"checksum","sha256":"\(String(repeating: "AB", count: 32))"}}]}
            """
        try await TestApp.run { client in
            let replaced = try await client.call(
                .put,
                "/v1/tenants/\(tenant)/settings",
                key: key,
                body: document,
                headers: [.ifMatch: "\"v0\""]
            )
            #expect(replaced.status == .ok)
            #expect(replaced.headers[.eTag] == "\"v1\"")
            #expect(replaced.value("run_as_admin", "mode") as? String == "reason_required")
            let entries = try #require(replaced.value("pre_approved_applications") as? [[String: any Sendable]])
            let protection = try #require(entries.first?["protection"] as? [String: any Sendable])
            #expect(protection["sha256"] as? String == String(repeating: "ab", count: 32), "stored lowercase")

            let read = try await client.call(.get, "/v1/tenants/\(tenant)/settings", key: key)
            #expect(read.headers[.eTag] == "\"v1\"")
            #expect(read.value("run_as_admin", "mode") as? String == "reason_required")

            let stale = try await client.call(
                .put,
                "/v1/tenants/\(tenant)/settings",
                key: key,
                body: #"{"schema_version":1}"#,
                headers: [.ifMatch: "\"v0\""]
            )
            expectProblem(stale, 412, field: "If-Match")
            let unchanged = try await client.call(.get, "/v1/tenants/\(tenant)/settings", key: key)
            #expect(unchanged.value("run_as_admin", "mode") as? String == "reason_required")

            let second = try await client.call(
                .put,
                "/v1/tenants/\(tenant)/settings",
                key: key,
                body: #"{"schema_version":1}"#,
                headers: [.ifMatch: "\"v1\""]
            )
            #expect(second.headers[.eTag] == "\"v2\"")

            let audit = try await client.call(
                .get,
                "/v1/tenants/\(tenant)/audit-events?action=settings.replaced",
                key: key
            )
            #expect(audit.items.count == 2)
            let first = try #require(audit.items.last)
            let before = try #require(first["before"] as? [String: any Sendable])
            let after = try #require(first["after"] as? [String: any Sendable])
            #expect(before["version"] as? Double == 0)
            #expect(after["version"] as? Double == 1)
            #expect(
                ((before["document"] as? [String: any Sendable])?["run_as_admin"] as? [String: any Sendable])?["mode"]
                    as? String == "approval_required"
            )
            #expect(
                ((after["document"] as? [String: any Sendable])?["run_as_admin"] as? [String: any Sendable])?["mode"]
                    as? String == "reason_required"
            )
        }
    }

    struct Invalid: Sendable, CustomStringConvertible {
        var description: String
        var body: String
        var pointer: String
    }

    static let invalid: [Invalid] = [
        Invalid(description: "unknown field", body: #"{"schema_version":1,"colour":"red"}"#, pointer: "/colour"),
        Invalid(
            description: "unknown enumeration value",
            body: #"{"schema_version":1,"run_as_admin":{"mode":"sometimes"}}"#,
            pointer: "/run_as_admin/mode"
        ),
        Invalid(
            description: "malformed SHA-256",
            body: #"""
                {"schema_version":1,"pre_approved_applications":[{"file_name":"a.exe","kind":"application",
                "applies_to":["run_as_admin"],"protection":{"type":"checksum","sha256":"abc"}}]}
                """#,
            pointer: "/pre_approved_applications/0/protection/sha256"
        ),
        Invalid(
            description: "relative path",
            body: #"""
                {"schema_version":1,"pre_approved_applications":[{"file_name":"a.exe","kind":"application",
                "applies_to":["run_as_admin"],"protection":{"type":"path","path":"Program Files\\Vendor"}}]}
                """#,
            pointer: "/pre_approved_applications/0/protection/path"
        ),
        Invalid(
            description: "duration out of range",
            body: #"{"schema_version":1,"admin_session":{"mode":"audit_only","workstation_duration_minutes":0}}"#,
            pointer: "/admin_session/workstation_duration_minutes"
        ),
        Invalid(
            description: "repeated member",
            body: #"{"schema_version":1,"run_as_admin":{"mode":"disabled","mode":"audit_only"}}"#,
            pointer: "/run_as_admin/mode"
        ),
        Invalid(description: "missing schema version", body: #"{"endpoint":{}}"#, pointer: "/schema_version"),
        Invalid(
            description: "integer written as a string",
            body: #"{"schema_version":1,"endpoint":{"offline_grace_period_hours":"72"}}"#,
            pointer: "/endpoint/offline_grace_period_hours"
        ),
    ]

    @Test("an invalid document gets 422 naming the first bad field, and nothing is written", arguments: invalid)
    func rejected(_ invalid: Invalid) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run { client in
            let answer = try await client.call(
                .put,
                "/v1/tenants/\(world.tenants[0])/settings",
                key: world.tenantKeys[0],
                body: invalid.body
            )
            expectProblem(answer, 422, field: invalid.pointer)
            #expect(answer.errorPointers.first == invalid.pointer)
            let read = try await client.call(.get, "/v1/tenants/\(world.tenants[0])/settings", key: world.tenantKeys[0])
            #expect(read.headers[.eTag] == "\"v0\"")
        }
    }

    @Test("every problem of a document is listed in errors, the first in field")
    func allIssues() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let body =
            #"{"schema_version":1,"run_as_admin":{"mode":"x"},"endpoint":{"fallback_poll_interval_seconds":1},"x":1}"#
        try await TestApp.run { client in
            let answer = try await client.call(
                .put,
                "/v1/tenants/\(world.tenants[0])/settings",
                key: world.tenantKeys[0],
                body: body
            )
            expectProblem(answer, 422)
            let pointers = answer.errorPointers
            #expect(Set(pointers) == ["/x", "/run_as_admin/mode", "/endpoint/fallback_poll_interval_seconds"])
            #expect(answer.problemField == pointers.first)
        }
    }

    @Test("any role reads; only admin and above write")
    func roles() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let (auditor, admin) = try await TestApp.withOwner { database in
            let bootstrap = Bootstrap(database: database, logger: TestApp.logger, actorName: "tests")
            return (
                try await bootstrap.createAPIKey(name: "auditor", role: .auditor, scope: .tenant(world.msp, tenant)),
                try await bootstrap.createAPIKey(name: "admin", role: .admin, scope: .tenant(world.msp, tenant))
            )
        }
        try await TestApp.run { client in
            #expect(try await client.call(.get, "/v1/tenants/\(tenant)/settings", key: auditor).status == .ok)
            #expect(try await client.call(.get, "/v1/tenants/\(tenant)/subsettings", key: auditor).status == .ok)
            let denied = try await client.call(
                .put,
                "/v1/tenants/\(tenant)/settings",
                key: auditor,
                body: #"{"schema_version":1}"#
            )
            expectProblem(denied, 403)
            let subsetting = try await client.call(
                .post,
                "/v1/tenants/\(tenant)/subsettings",
                key: auditor,
                body: subsettingBody(name: "x", groups: [ObjectGUID(UUID())])
            )
            expectProblem(subsetting, 403)
            let allowed = try await client.call(
                .put,
                "/v1/tenants/\(tenant)/settings",
                key: admin,
                body: #"{"schema_version":1}"#
            )
            #expect(allowed.status == .ok)
        }
    }
}
