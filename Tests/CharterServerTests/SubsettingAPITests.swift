import CharterCore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Subsettings API")
struct SubsettingAPITests {
    /// A tenant with the sample directory stored.
    static func world() async throws -> (TestApp.World, PolicyDirectory) {
        let world = try await TestApp.makeWorld(tenants: 1)
        let directory = PolicyDirectory()
        try await directory.store(in: world.tenants[0], msp: world.msp)
        return (world, directory)
    }

    static func names(_ answer: Answer) -> [String] {
        answer.items.compactMap { $0["name"] as? String }
    }

    @Test("create (last or at a position), list in priority order, read, replace, patch and delete")
    func lifecycle() async throws {
        let (world, directory) = try await Self.world()
        let base = "/v1/tenants/\(world.tenants[0])/subsettings"
        let key = world.tenantKeys[0]
        try await TestApp.run { client in
            let a = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(name: "A", groups: [directory["helpdesk"]])
            )
            #expect(a.status == .created)
            #expect(a.headers[.eTag] == "\"v1\"")
            #expect(a.json["priority"] as? Double == 0)
            let b = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(name: "B", target: "computer", ous: [directory["ou:workstations"]])
            )
            #expect(b.json["priority"] as? Double == 1)
            let c = try await client.call(
                .post,
                base + "?position=0",
                key: key,
                body: subsettingBody(name: "C", ous: [directory["ou:corp"]])
            )
            #expect(c.json["priority"] as? Double == 0)
            expectProblem(
                try await client.call(
                    .post,
                    base + "?position=9",
                    key: key,
                    body: subsettingBody(name: "D", ous: [directory["ou:corp"]])
                ),
                422,
                field: "position"
            )
            #expect(Self.names(try await client.call(.get, base, key: key)) == ["C", "A", "B"])

            let id = try #require(a.json["id"] as? String)
            let read = try await client.call(.get, "\(base)/\(id)", key: key)
            #expect(read.status == .ok)
            #expect(read.json["name"] as? String == "A")
            #expect(read.json["priority"] as? Double == 1)
            #expect(
                (read.json["scope"] as? [String: any Sendable])?["groups"] as? [String]
                    == [directory["helpdesk"].description]
            )
            #expect((read.json["overrides"] as? [String: any Sendable])?.keys.sorted() == ["run_as_admin"])

            // What was read can be sent back: the read-only members are ignored.
            let raw = try await client.execute(
                uri: "\(base)/\(id)",
                method: .get,
                headers: [.authorization: "Bearer \(key)"]
            ) { String(buffer: $0.body) }
            let echoed = raw.replacingOccurrences(of: "\"A\"", with: "\"A renamed\"")
            #expect(echoed != raw)
            let replaced = try await client.call(
                .put,
                "\(base)/\(id)",
                key: key,
                body: echoed,
                headers: [.ifMatch: "\"v1\""]
            )
            #expect(replaced.status == .ok, "\(replaced.json)")
            #expect(replaced.headers[.eTag] == "\"v2\"")
            #expect(replaced.json["name"] as? String == "A renamed")
            #expect(replaced.json["priority"] as? Double == 1)

            let stale = try await client.call(
                .put,
                "\(base)/\(id)",
                key: key,
                body: subsettingBody(name: "x", groups: [directory["helpdesk"]]),
                headers: [.ifMatch: "\"v1\""]
            )
            expectProblem(stale, 412, field: "If-Match")

            let patched = try await client.call(
                .patch,
                "\(base)/\(id)",
                key: key,
                body: #"{"enabled":false}"#,
                headers: [.ifMatch: "\"v2\""]
            )
            #expect(patched.status == .ok)
            // The test client reads JSON booleans as numbers.
            #expect(patched.json["enabled"] as? Double == 0)
            #expect(patched.json["name"] as? String == "A renamed")
            #expect(patched.headers[.eTag] == "\"v3\"")
            let badPatch = try await client.call(
                .patch,
                "\(base)/\(id)",
                key: key,
                body: #"{"overrides":{"run_as_admin":{"mode":"never"}}}"#
            )
            expectProblem(badPatch, 422, field: "/overrides/run_as_admin/mode")

            let cID = try #require(c.json["id"] as? String)
            #expect(
                try await client.call(.delete, "\(base)/\(cID)", key: key, headers: [.ifMatch: "\"v9\""]).status.code
                    == 412
            )
            #expect(try await client.call(.delete, "\(base)/\(cID)", key: key).status == .noContent)
            expectProblem(try await client.call(.get, "\(base)/\(cID)", key: key), 404)
            let list = try await client.call(.get, base, key: key)
            #expect(Self.names(list) == ["A renamed", "B"])
            #expect(list.items.compactMap { $0["priority"] as? Double } == [0, 1])
            expectProblem(try await client.call(.get, "\(base)/not-a-uuid", key: key), 400, field: "id")

            let audit = try await client.call(.get, "/v1/tenants/\(world.tenants[0])/audit-events", key: key)
            let actions = audit.items.compactMap { $0["action"] as? String }
            #expect(actions.filter { $0 == "subsetting.created" }.count == 3)
            #expect(actions.filter { $0 == "subsetting.updated" }.count == 2)
            #expect(actions.filter { $0 == "subsetting.deleted" }.count == 1)
            let update = try #require(audit.items.first { $0["action"] as? String == "subsetting.updated" })
            let before = try #require(update["before"] as? [String: any Sendable])
            let after = try #require(update["after"] as? [String: any Sendable])
            #expect((before["document"] as? [String: any Sendable])?["enabled"] as? Double == 1)
            #expect((after["document"] as? [String: any Sendable])?["enabled"] as? Double == 0)
            #expect(after["version"] as? Double == 3)
        }
    }

    @Test("reorder replaces the whole order; a repeated, unknown or missing id is a 422 naming it")
    func reorder() async throws {
        let (world, directory) = try await Self.world()
        let base = "/v1/tenants/\(world.tenants[0])/subsettings"
        let key = world.tenantKeys[0]
        try await TestApp.run { client in
            var ids: [String] = []
            for name in ["A", "B", "C"] {
                let created = try await client.call(
                    .post,
                    base,
                    key: key,
                    body: subsettingBody(name: name, groups: [directory["kiosks"]])
                )
                ids.append(try #require(created.json["id"] as? String))
            }
            func order(_ list: [String]) -> String {
                "{\"ids\":[" + list.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
            }
            let reordered = try await client.call(
                .put,
                "\(base)/order",
                key: key,
                body: order([ids[2], ids[0], ids[1]])
            )
            #expect(reordered.status == .ok)
            #expect(Self.names(reordered) == ["C", "A", "B"])
            #expect(Self.names(try await client.call(.get, base, key: key)) == ["C", "A", "B"])
            #expect(
                reordered.items.compactMap { $0["version"] as? Double } == [1, 1, 1],
                "reordering edits no subsetting"
            )

            let unknown = UUID().uuidString.lowercased()
            expectProblem(
                try await client.call(.put, "\(base)/order", key: key, body: order([ids[0], ids[0], ids[1]])),
                422,
                field: "/ids/1"
            )
            expectProblem(
                try await client.call(.put, "\(base)/order", key: key, body: order([ids[0], ids[1], ids[2], unknown])),
                422,
                field: "/ids/3"
            )
            let missing = try await client.call(.put, "\(base)/order", key: key, body: order([ids[0], ids[1]]))
            expectProblem(missing, 422, field: "/ids")
            #expect((missing.json["detail"] as? String)?.contains(ids[2]) == true)
            expectProblem(
                try await client.call(.put, "\(base)/order", key: key, body: order(["nope"])),
                422,
                field: "/ids/0"
            )
            // ids is required by the document: leaving it out is malformed, like any missing required member.
            expectProblem(try await client.call(.put, "\(base)/order", key: key, body: "{}"), 400, field: "/ids")
            #expect(
                Self.names(try await client.call(.get, base, key: key)) == ["C", "A", "B"],
                "failed reorders change nothing"
            )

            let audit = try await client.call(
                .get,
                "/v1/tenants/\(world.tenants[0])/audit-events?action=subsettings.reordered",
                key: key
            )
            #expect(audit.items.count == 1)
            let event = try #require(audit.items.first)
            #expect((event["before"] as? [String: any Sendable])?["order"] as? [String] == ids)
            #expect((event["after"] as? [String: any Sendable])?["order"] as? [String] == [ids[2], ids[0], ids[1]])
        }
    }

    @Test("a scope naming a group or OU the directory does not have is a 422 naming it")
    func unknownScope() async throws {
        let (world, directory) = try await Self.world()
        let base = "/v1/tenants/\(world.tenants[0])/subsettings"
        let key = world.tenantKeys[0]
        let stranger = ObjectGUID(UUID())
        try await TestApp.run { client in
            let unknownGroup = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(name: "x", groups: [stranger, directory["helpdesk"]])
            )
            expectProblem(unknownGroup, 422, field: "/scope/groups/0")
            #expect((unknownGroup.json["detail"] as? String)?.contains(stranger.description) == true)
            let userAsGroup = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(name: "x", groups: [directory["helpdesk"], directory["alice"]])
            )
            expectProblem(userAsGroup, 422, field: "/scope/groups/1")
            let groupAsOU = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(name: "x", ous: [directory["ou:corp"], directory["servers"]])
            )
            expectProblem(groupAsOU, 422, field: "/scope/ous/1")
            let badOverride = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(
                    name: "x",
                    groups: [directory["helpdesk"]],
                    overrides: #"{"endpoint":{"colour":1}}"#
                )
            )
            expectProblem(badOverride, 422, field: "/overrides/endpoint/colour")
            #expect(try await client.call(.get, base, key: key).items.isEmpty)

            let created = try await client.call(
                .post,
                base,
                key: key,
                body: subsettingBody(name: "ok", groups: [directory["helpdesk"]])
            )
            let id = try #require(created.json["id"] as? String)
            let patch = try await client.call(
                .patch,
                "\(base)/\(id)",
                key: key,
                body: "{\"scope\":{\"ous\":[\"\(stranger)\"]}}"
            )
            expectProblem(patch, 422, field: "/scope/ous/0")
        }
    }
}
