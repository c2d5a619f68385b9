import CharterCore
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The issue's bar: the worked example of docs/policy.md through the API, against a table written by hand.
@Suite("Effective policy API")
struct EffectivePolicyAPITests {
    /// The subsettings of docs/policy.md, in priority order.
    static func subsettings(_ d: PolicyDirectory) -> [String] {
        [
            subsettingBody(
                name: "Servers lockdown",
                target: "computer",
                groups: [d["servers"]],
                overrides: #"{"run_as_admin":{"mode":"disabled"}}"#
            ),
            subsettingBody(
                name: "Finance",
                ous: [d["ou:finance"]],
                overrides: #"{"run_as_admin":{"mode":"audit_only"}}"#
            ),
            subsettingBody(
                name: "Staff",
                groups: [d["allStaff"]],
                overrides: #"{"run_as_admin":{"mode":"reason_required"},"admin_session":{"mode":"audit_only"}}"#
            ),
            subsettingBody(
                name: "Helpdesk",
                groups: [d["helpdesk"], d["itAdmins"]],
                overrides: #"{"admin_session":{"mode":"audit_only"}}"#
            ),
            subsettingBody(
                name: "Everyone (off)",
                enabled: false,
                ous: [d["ou:corp"]],
                overrides: #"{"run_as_admin":{"mode":"audit_only"}}"#
            ),
            subsettingBody(
                name: "Workstations",
                target: "computer",
                ous: [d["ou:workstations"]],
                overrides: #"{"endpoint":{"offline_grace_period_hours":24}}"#
            ),
            subsettingBody(
                name: "Cycle",
                groups: [d["cycleB"]],
                overrides: #"{"run_as_admin":{"mode":"reason_required"}}"#
            ),
        ]
    }

    /// One row of the hand-written table. Paths read `group:a>b>c` (the chain) or `ou:name@depth`.
    struct Expected: Sendable, CustomStringConvertible {
        var user: String?
        var computer: String?
        var winner: String?
        var path: String?
        var outranked: [String]
        var disabled: [String]
        var overridden: [String]
        var runAsAdmin: String
        var adminSession: String
        var offlineGraceHours: Int
        var description: String { "\(user ?? "-") on \(computer ?? "-")" }
    }

    static let table: [Expected] = [
        Expected(
            user: "alice",
            computer: "ws1",
            winner: "Finance",
            path: "ou:ou:finance@1",
            outranked: ["Staff", "Workstations"],
            disabled: ["Everyone (off)"],
            overridden: ["run_as_admin"],
            runAsAdmin: "audit_only",
            adminSession: "approval_required",
            offlineGraceHours: 72
        ),
        Expected(
            user: "alice",
            computer: "srv1",
            winner: "Servers lockdown",
            path: "group:servers",
            outranked: ["Finance", "Staff"],
            disabled: ["Everyone (off)"],
            overridden: ["run_as_admin"],
            runAsAdmin: "disabled",
            adminSession: "approval_required",
            offlineGraceHours: 72
        ),
        Expected(
            user: "bob",
            computer: "ws1",
            winner: "Helpdesk",
            path: "group:helpdesk",
            outranked: ["Workstations"],
            disabled: ["Everyone (off)"],
            overridden: ["admin_session"],
            runAsAdmin: "approval_required",
            adminSession: "audit_only",
            offlineGraceHours: 72
        ),
        Expected(
            user: "alice",
            computer: nil,
            winner: "Finance",
            path: "ou:ou:finance@1",
            outranked: ["Staff"],
            disabled: ["Everyone (off)"],
            overridden: ["run_as_admin"],
            runAsAdmin: "audit_only",
            adminSession: "approval_required",
            offlineGraceHours: 72
        ),
        Expected(
            user: "carol",
            computer: nil,
            winner: "Cycle",
            path: "group:cycleA>cycleB",
            outranked: [],
            disabled: ["Everyone (off)"],
            overridden: ["run_as_admin"],
            runAsAdmin: "reason_required",
            adminSession: "approval_required",
            offlineGraceHours: 72
        ),
        Expected(
            user: "carol",
            computer: "ws2",
            winner: "Workstations",
            path: "ou:ou:workstations@1",
            outranked: ["Cycle"],
            disabled: ["Everyone (off)"],
            overridden: ["endpoint"],
            runAsAdmin: "approval_required",
            adminSession: "approval_required",
            offlineGraceHours: 24
        ),
        Expected(
            user: "dave",
            computer: nil,
            winner: nil,
            path: nil,
            outranked: [],
            disabled: [],
            overridden: [],
            runAsAdmin: "approval_required",
            adminSession: "approval_required",
            offlineGraceHours: 72
        ),
        Expected(
            user: nil,
            computer: "ws1",
            winner: "Workstations",
            path: "ou:ou:workstations@1",
            outranked: [],
            disabled: [],
            overridden: ["endpoint"],
            runAsAdmin: "approval_required",
            adminSession: "approval_required",
            offlineGraceHours: 24
        ),
        Expected(
            user: "dave",
            computer: "srv1",
            winner: "Servers lockdown",
            path: "group:servers",
            outranked: [],
            disabled: [],
            overridden: ["run_as_admin"],
            runAsAdmin: "disabled",
            adminSession: "approval_required",
            offlineGraceHours: 72
        ),
    ]

    @Test("the effective policy and its explanation match the hand-written table")
    func table() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await TestApp.run { client in
            for body in Self.subsettings(directory) {
                let created = try await client.call(.post, "/v1/tenants/\(tenant)/subsettings", key: key, body: body)
                try #require(created.status == .created, "\(created.json)")
            }
            for row in Self.table {
                var query: [String] = []
                if let user = row.user { query.append("user=\(directory[user])") }
                if let computer = row.computer { query.append("computer=\(directory[computer])") }
                let answer = try await client.call(
                    .get,
                    "/v1/tenants/\(tenant)/effective-policy?" + query.joined(separator: "&"),
                    key: key
                )
                try #require(answer.status == .ok, "\(row): \(answer.json)")
                let explanation = try #require(answer.json["explanation"] as? [String: any Sendable])
                let winner = explanation["winner"] as? [String: any Sendable]
                #expect(winner?["name"] as? String == row.winner, "\(row)")
                #expect(winner.flatMap { Self.path($0, directory) } == row.path, "\(row)")
                #expect(Self.names(explanation["outranked"]) == row.outranked, "\(row)")
                #expect(Self.names(explanation["disabled"]) == row.disabled, "\(row)")
                #expect(explanation["overridden_sections"] as? [String] == row.overridden, "\(row)")
                let inherited = Set(explanation["inherited_sections"] as? [String] ?? [])
                #expect(
                    inherited == Set(Settings.Section.allCases.map(\.rawValue)).subtracting(row.overridden),
                    "\(row)"
                )
                let source = answer.json["source"] as? [String: any Sendable]
                #expect(source?["kind"] as? String == (row.winner == nil ? "global" : "subsetting"), "\(row)")
                #expect(source?["name"] as? String == row.winner, "\(row)")
                #expect(answer.value("settings", "run_as_admin", "mode") as? String == row.runAsAdmin, "\(row)")
                #expect(answer.value("settings", "admin_session", "mode") as? String == row.adminSession, "\(row)")
                #expect(
                    answer.value("settings", "endpoint", "offline_grace_period_hours") as? Double
                        == Double(row.offlineGraceHours),
                    "\(row)"
                )
            }
        }
    }

    @Test("changing the global settings changes the effective policy of whoever inherits them")
    func globalChange() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await TestApp.run { client in
            let uri = "/v1/tenants/\(tenant)/effective-policy?user=\(directory["dave"])"
            #expect(
                try await client.call(.get, uri, key: key).value("settings", "run_as_admin", "mode") as? String
                    == "approval_required"
            )
            let put = try await client.call(
                .put,
                "/v1/tenants/\(tenant)/settings",
                key: key,
                body: #"{"schema_version":1,"run_as_admin":{"mode":"disabled"}}"#
            )
            #expect(put.status == .ok)
            #expect(
                try await client.call(.get, uri, key: key).value("settings", "run_as_admin", "mode") as? String
                    == "disabled"
            )
        }
    }

    @Test("unknown objects are not found; without objects the answer is the global settings")
    func badQueries() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await TestApp.run { client in
            let base = "/v1/tenants/\(tenant)/effective-policy"
            let neither = try await client.call(.get, base, key: key)
            #expect(neither.status == .ok)
            #expect(neither.json["winner"] == nil)
            expectProblem(try await client.call(.get, base + "?user=nope", key: key), 400, field: "user")
            expectProblem(try await client.call(.get, base + "?user=\(UUID())", key: key), 404, field: "user")
            expectProblem(try await client.call(.get, base + "?user=\(directory["ws1"])", key: key), 404, field: "user")
            expectProblem(
                try await client.call(.get, base + "?computer=\(directory["alice"])", key: key),
                404,
                field: "computer"
            )
        }
    }

    static func names(_ value: (any Sendable)?) -> [String] {
        ((value as? [[String: any Sendable]]) ?? []).compactMap { $0["name"] as? String }
    }

    static func path(_ match: [String: any Sendable], _ directory: PolicyDirectory) -> String? {
        guard let path = match["path"] as? [String: any Sendable] else { return nil }
        switch path["kind"] as? String {
        case "group":
            let chain = (path["chain"] as? [String] ?? []).map(directory.name(of:))
            return "group:" + chain.joined(separator: ">")
        case "ou":
            let ou = (path["ou"] as? String).map(directory.name(of:)) ?? "?"
            return "ou:\(ou)@\((path["depth"] as? Double).map { Int($0) } ?? 0)"
        default:
            return nil
        }
    }
}
