import CharterCore
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
    static func verify(_ tenant: TenantID) throws -> (status: Int32, json: [String: Any]) {
        let process = Process()
        process.executableURL = ServeProcess.executable
        process.arguments = ["audit", "verify", "--tenant", tenant.description, "--json"]
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHARTER_") }
        environment["CHARTER_DATABASE_MIGRATION_URL"] = TestApp.env("CHARTER_TEST_MIGRATION_DATABASE_URL")
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
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
        let intact = try Self.verify(tenant)
        #expect(intact.status == 0)
        #expect(intact.json["valid"] as? Bool == true)
        let count = try #require(intact.json["events_checked"] as? Int)
        #expect(count >= 4)

        try await TestApp.withOwner { database in
            try await database.withoutTenant(logger: TestApp.logger) { tx in
                try await tx.query(
                    "UPDATE audit_events SET action = 'api_key.nothing_to_see' WHERE tenant_id = \(tenant.rawValue) AND seq = 3"
                )
            }
        }
        let broken = try Self.verify(tenant)
        #expect(broken.status == 1)
        #expect(broken.json["valid"] as? Bool == false)
        #expect(broken.json["first_broken_sequence"] as? Int == 3)
    }
}
