import CharterCore
@testable import CharterServer
import HummingbirdTesting
import NIOCore
import NIOPosix
import CharterStore
import Foundation
import HTTPTypes
import PostgresNIO
import Testing

/// `charter audit verify` over the real database: intact, then after one row was changed behind the
/// service's back.
@Suite("charter audit verify")
struct AuditVerifyCommandTests {
    /// Runs `charter audit verify --tenant … --json`; the exit status and the JSON it printed.
    static func verify(_ tenant: TenantID) async throws -> (status: Int32, json: [String: Any]) {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHARTER_") }
        environment["CHARTER_DATABASE_MIGRATION_URL"] = TestDatabase.ownerURL
        let ended = try await ChildProcess.run(
            ServeProcess.executable.path, ["audit", "verify", "--tenant", tenant.description, "--json"],
            environment: environment
        )
        let status = try #require(ended.status, "charter audit verify ended without an exit status")
        return (status, (try? JSONSerialization.jsonObject(with: ended.output)) as? [String: Any] ?? [:])
    }

    @Test("an intact log verifies; changing one event's action is found at that event and exits 1")
    func tampering() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            for name in ["one", "two", "three"] {
                let answer = try await client.call(
                    .post, "/v1/tenants/\(tenant)/api-keys", key: world.tenantKeys[0], body: #"{"name":"\#(name)","role":"auditor"}"#
                )
                #expect(answer.status == .created)
            }
        }
        let intact = try await Self.verify(tenant)
        #expect(intact.status == 0)
        #expect(intact.json["valid"] as? Bool == true)
        let count = try #require(intact.json["events_checked"] as? Int)
        #expect(count >= 4)

        _ = try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    "UPDATE audit_events SET action = 'api_key.nothing_to_see' WHERE tenant_id = \(tenant.rawValue) AND seq = 3"
                )
            }
        }
        let broken = try await Self.verify(tenant)
        #expect(broken.status == 1)
        #expect(broken.json["valid"] as? Bool == false)
        #expect(broken.json["first_broken_sequence"] as? Int == 3)
    }
}

/// The streaming export of a tenant's log.
@Suite("Audit export")
struct AuditExportTests {
    @Test("csv and jsonl export every filtered event, oldest first, across pages; csv quotes and defuses formulas")
    func export() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run { client in
            for index in 0..<3 {
                let name = index == 0 ? "=cmd|'/C calc'!A0, \\\"quoted\\\"" : "key \(index)"
                let answer = try await client.call(
                    .post, "/v1/tenants/\(tenant)/api-keys", key: key, body: #"{"name":"\#(name)","role":"auditor"}"#
                )
                #expect(answer.status == .created)
            }
            let csv = try await client.execute(
                uri: "/v1/tenants/\(tenant)/audit-events?format=csv&action=api_key.created", method: .get,
                headers: [.authorization: "Bearer \(key)"], body: nil
            ) { response in (response.headers[.contentType], String(buffer: response.body)) }
            #expect(csv.0?.hasPrefix("text/csv") == true)
            let lines = csv.1.components(separatedBy: "\r\n").filter { !$0.isEmpty }
            #expect(lines.first == AuditExport.columns.joined(separator: ","))
            // The tenant's own owner key is the first api_key.created; then the three above.
            #expect(lines.count == 5)
            #expect(!csv.1.contains(",=cmd"))
            // occurred_at (the third column, never quoted) is a whole RFC 3339 time, date included.
            for line in lines.dropFirst() {
                let occurredAt = String(line.split(separator: ",")[2])
                let parsed = try Date(occurredAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                #expect(abs(parsed.timeIntervalSinceNow) < 600, "\(occurredAt)")
            }

            let jsonl = try await client.execute(
                uri: "/v1/tenants/\(tenant)/audit-events?format=jsonl", method: .get,
                headers: [.authorization: "Bearer \(key)"], body: nil
            ) { response in String(buffer: response.body) }
            let sequences = try jsonl.split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return try #require(object?["sequence"] as? Int)
            }
            #expect(sequences == Array(1...sequences.count))
        }
    }

    @Test("csvField quotes separators, quotes and line breaks, and prefixes formula starts")
    func csvField() {
        #expect(AuditExport.csvField("plain") == "plain")
        #expect(AuditExport.csvField("a,b") == "\"a,b\"")
        #expect(AuditExport.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(AuditExport.csvField("line\nbreak") == "\"line\nbreak\"")
        #expect(AuditExport.csvField("=SUM(A1)") == "'=SUM(A1)")
        #expect(AuditExport.csvField("@x") == "'@x")
    }
}
