import CharterCore
import CharterServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// `/v1/tenants/{tenant}/settings/pre-approved-applications[/{entry}]`: the global list one entry at a time.
@Suite("Pre-approved applications API")
struct PreApprovedAPITests {
    static let sha = String(repeating: "ab", count: 32)
    static let checksumEntry = #"{"file_name":"setup.exe","kind":"installer","applies_to":["run_as_admin"],"protection":{"type":"checksum","sha256":"\#(sha)"}}"#
    static let vendorEntry = #"{"kind":"application","applies_to":["run_as_admin"],"protection":{"type":"certificate","vendor":"Contoso"}}"#
    static let settings = #"{"schema_version":1,"pre_approved_applications":[\#(checksumEntry),\#(vendorEntry)]}"#

    static func path(_ tenant: TenantID, _ entry: String? = nil) -> String {
        "/v1/tenants/\(tenant)/settings/pre-approved-applications" + (entry.map { "/\($0)" } ?? "")
    }

    static func call(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, key: String, body: String? = nil,
        ifMatch: String? = nil
    ) async throws -> Answer {
        var headers: HTTPFields = [:]
        if let ifMatch { headers[.ifMatch] = ifMatch }
        return try await client.call(method, uri, key: key, body: body, headers: headers)
    }

    @Test("entries get ids, are read, added, replaced in place and removed, each audited and versioned")
    func crud() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let (tenant, key) = (world.tenants[0], world.tenantKeys[0])
        try await TestApp.run { client in
            let put = try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: Self.settings)
            #expect(put.status == .ok, "\(put.json)")
            let listed = try await client.call(.get, Self.path(tenant), key: key)
            #expect(listed.status == .ok)
            #expect(listed.headers[.eTag] == "\"v1\"")
            let ids = listed.items.compactMap { $0["id"] as? String }
            #expect(ids.count == 2 && Set(ids).count == 2)
            #expect(listed.items.last?["file_name"] == nil)

            // Sending the same document again (without ids) derives the same ids; sending back what was read keeps them.
            _ = try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: Self.settings)
            #expect(try await client.call(.get, Self.path(tenant), key: key).items.compactMap { $0["id"] as? String } == ids)

            let one = try await client.call(.get, Self.path(tenant, ids[0]), key: key)
            #expect(one.status == .ok)
            #expect(one.json["file_name"] as? String == "setup.exe")
            #expect(one.headers[.eTag] == "\"v2\"")

            let added = try await Self.call(
                client, .post, Self.path(tenant), key: key,
                body: #"{"file_name":"tool.exe","kind":"application","applies_to":["admin_session"],"protection":{"type":"path","path":"%ProgramFiles%\\Tools"}}"#,
                ifMatch: "\"v2\""
            )
            #expect(added.status == .created, "\(added.json)")
            #expect(added.headers[.eTag] == "\"v3\"")
            let newID = try #require(added.json["id"] as? String)
            #expect((added.json["protection"] as? [String: any Sendable])?["path"] as? String == #"%ProgramFiles%\Tools"#)
            expectProblem(
                try await Self.call(client, .post, Self.path(tenant), key: key, body: Self.vendorEntry, ifMatch: "\"v2\""), 412,
                field: "If-Match"
            )

            let replaced = try await Self.call(
                client, .put, Self.path(tenant, ids[0]), key: key,
                body: #"{"id":"\#(ids[0])","file_name":"setup.exe","kind":"installer","applies_to":["run_as_admin"],"log_to_audit":false,"protection":{"type":"checksum","sha256":"\#(Self.sha)"}}"#
            )
            #expect(replaced.status == .ok, "\(replaced.json)")
            #expect(replaced.json["log_to_audit"] as? Double == 0, "booleans arrive as numbers")
            let order = try await client.call(.get, Self.path(tenant), key: key).items.compactMap { $0["id"] as? String }
            #expect(order == [ids[0], ids[1], newID])

            #expect(try await client.call(.delete, Self.path(tenant, ids[1]), key: key).status == .noContent)
            expectProblem(try await client.call(.get, Self.path(tenant, ids[1]), key: key), 404, field: "entry")
            let settings = try await client.call(.get, "/v1/tenants/\(tenant)/settings", key: key)
            #expect(settings.headers[.eTag] == "\"v5\"")
            let stored = try #require(settings.json["pre_approved_applications"] as? [[String: any Sendable]])
            #expect(stored.compactMap { $0["id"] as? String } == [ids[0], newID])

            let log = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?limit=50", key: key)
            let actions = log.items.compactMap { $0["action"] as? String }
            for action in ["pre_approved_application.created", "pre_approved_application.replaced", "pre_approved_application.deleted"] {
                #expect(actions.contains(action), "\(action)")
            }
        }
    }

    @Test("refusals: invalid entries with pointers into the entry, taken or mismatched ids, unknown entries, roles")
    func refusals() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let (tenant, key) = (world.tenants[0], world.tenantKeys[0])
        try await TestApp.run { client in
            _ = try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: Self.settings)
            let ids = try await client.call(.get, Self.path(tenant), key: key).items.compactMap { $0["id"] as? String }
            let invalid = #"{"file_name":"a.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"checksum","sha256":"abc"}}"#
            expectProblem(try await Self.call(client, .post, Self.path(tenant), key: key, body: invalid), 422, field: "/protection/sha256")
            let unnamed = #"{"kind":"application","applies_to":["run_as_admin"],"protection":{"type":"none"}}"#
            expectProblem(try await Self.call(client, .post, Self.path(tenant), key: key, body: unnamed), 422, field: "/file_name")
            let wrongType = #"{"file_name":"a.exe","kind":5,"applies_to":["run_as_admin"],"protection":{"type":"none"}}"#
            expectProblem(try await Self.call(client, .post, Self.path(tenant), key: key, body: wrongType), 422, field: "/kind")
            let taken = #"{"id":"\#(ids[0])","file_name":"a.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"none"}}"#
            expectProblem(try await Self.call(client, .post, Self.path(tenant), key: key, body: taken), 422, field: "/id")
            expectProblem(try await Self.call(client, .put, Self.path(tenant, ids[1]), key: key, body: taken), 422, field: "/id")
            expectProblem(
                try await Self.call(client, .put, Self.path(tenant, UUID().uuidString), key: key, body: Self.vendorEntry), 404,
                field: "entry"
            )
            expectProblem(try await client.call(.delete, Self.path(tenant, UUID().uuidString), key: key), 404, field: "entry")
            expectProblem(try await client.call(.get, Self.path(tenant, "not-an-id"), key: key), 400, field: "entry")
            let auditor = try #require(
                try await client.call(
                    .post, "/v1/tenants/\(tenant)/api-keys", key: key, body: #"{"name":"reader","role":"auditor"}"#
                ).json["secret"] as? String
            )
            #expect(try await client.call(.get, Self.path(tenant), key: auditor).status == .ok)
            expectProblem(try await Self.call(client, .post, Self.path(tenant), key: auditor, body: Self.vendorEntry), 403)
            expectProblem(try await client.call(.delete, Self.path(tenant, ids[0]), key: auditor), 403)
            // Nothing of the above changed the settings.
            #expect(try await client.call(.get, "/v1/tenants/\(tenant)/settings", key: key).headers[.eTag] == "\"v1\"")
            // A whole document whose entries repeat an id is refused with the pointer of the repetition.
            let repeated = #"{"schema_version":1,"pre_approved_applications":[\#(taken),\#(taken)]}"#
            expectProblem(
                try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: repeated), 422,
                field: "/pre_approved_applications/1/id"
            )
        }
    }

    @Test("a subsetting's list: inherited until its first write copies the global list, then its own; versioned, audited")
    func subsettingList() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client, settings: Self.settings) { directory in
                [subsettingBody(name: "Finance", groups: [directory["finance"]], overrides: #"{"endpoint":{}}"#)]
            }
            let (tenant, key) = (setup.tenant, setup.key)
            let subsetting = try #require(
                try await client.call(.get, "/v1/tenants/\(tenant)/subsettings", key: key).items.first?["id"] as? String
            )
            let path = "/v1/tenants/\(tenant)/subsettings/\(subsetting)/pre-approved-applications"
            let global = try await client.call(.get, Self.path(tenant), key: key).items.compactMap { $0["id"] as? String }

            let inherited = try await client.call(.get, path, key: key)
            #expect(inherited.status == .ok && inherited.headers[.eTag] == "\"v1\"")
            #expect(inherited.json["inherited"] as? Double == 1, "booleans arrive as numbers")
            #expect(inherited.items.compactMap { $0["id"] as? String } == global)
            #expect(try await client.call(.get, "\(path)/\(global[0])", key: key).json["file_name"] as? String == "setup.exe")

            let tool = #"{"file_name":"tool.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"none"}}"#
            let added = try await Self.call(client, .post, path, key: key, body: tool, ifMatch: "\"v1\"")
            #expect(added.status == .created, "\(added.json)")
            #expect(added.headers[.eTag] == "\"v2\"")
            let newID = try #require(added.json["id"] as? String)
            expectProblem(try await Self.call(client, .post, path, key: key, body: tool, ifMatch: "\"v1\""), 412, field: "If-Match")
            let own = try await client.call(.get, path, key: key)
            #expect(own.json["inherited"] as? Double == 0)
            #expect(own.items.compactMap { $0["id"] as? String } == global + [newID])

            let replaced = try await Self.call(client, .put, "\(path)/\(global[1])", key: key, body: tool)
            #expect(replaced.status == .ok && replaced.headers[.eTag] == "\"v3\"", "\(replaced.json)")
            #expect(try await client.call(.delete, "\(path)/\(newID)", key: key).status == .noContent)
            expectProblem(try await client.call(.get, "\(path)/\(newID)", key: key), 404, field: "entry")
            let invalid = #"{"file_name":"a.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"checksum","sha256":"abc"}}"#
            expectProblem(try await Self.call(client, .post, path, key: key, body: invalid), 422, field: "/protection/sha256")
            expectProblem(
                try await client.call(.get, "/v1/tenants/\(tenant)/subsettings/\(UUID())/pre-approved-applications", key: key), 404
            )
            let auditor = try #require(
                try await client.call(
                    .post, "/v1/tenants/\(tenant)/api-keys", key: key, body: #"{"name":"reader","role":"auditor"}"#
                ).json["secret"] as? String
            )
            #expect(try await client.call(.get, path, key: auditor).status == .ok)
            expectProblem(try await Self.call(client, .post, path, key: auditor, body: tool), 403)

            let read = try await client.call(.get, "/v1/tenants/\(tenant)/subsettings/\(subsetting)", key: key)
            #expect(read.headers[.eTag] == "\"v4\"")
            let entries = (read.json["overrides"] as? [String: any Sendable])?["pre_approved_applications"] as? [[String: any Sendable]]
            #expect(entries?.compactMap { $0["file_name"] as? String } == ["setup.exe", "tool.exe"])
            // The global list is untouched; each write was the subsetting's, audited with before and after.
            #expect(try await client.call(.get, Self.path(tenant), key: key).headers[.eTag] == "\"v1\"")
            let log = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?limit=50", key: key)
            let updates = log.items.filter { $0["action"] as? String == "subsetting.updated" }
            #expect(updates.count == 3 && updates.allSatisfy { $0["before"] != nil && $0["after"] != nil })
        }
    }
}
