import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

@Suite("Row-level security")
struct RowLevelSecurityTests {
    static func record(_ action: String) -> AuditRecord {
        AuditRecord(occurredAt: Date(), actor: .system, action: action, targetType: "test", targetID: "1")
    }

    @Test("a session of the service role without a tenant set sees no tenant rows")
    func noTenantNoRows() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.append(Self.record("test.seeded"), to: .tenant(tenants[0]))
            }
            try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                for table in ["msps", "tenants", "principals", "api_keys", "audit_events", "msp_audit_events"] {
                    let rows = try await tx.query("SELECT count(*) FROM \(unescaped: table)")
                    for try await count in rows.decode(Int.self) {
                        #expect(count == 0, "\(table) must show no rows without a tenant")
                    }
                }
            }
            // A plain connection, outside any Charter transaction, sees nothing either.
            let rows = try await database.client.query("SELECT count(*) FROM audit_events", logger: TestDatabase.logger)
            for try await count in rows.decode(Int.self) { #expect(count == 0) }
        }
    }

    @Test("inside a tenant only that tenant's rows are visible")
    func tenantSeesOnlyItself() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            for tenant in tenants {
                try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                    try await tx.audit.append(Self.record("test.\(tenant)"), to: .tenant(tenant))
                }
            }
            try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                let rows = try await tx.query("SELECT DISTINCT tenant_id FROM audit_events")
                var seen: [UUID] = []
                for try await id in rows.decode(UUID.self) { seen.append(id) }
                #expect(seen == [tenants[0].rawValue])
                let visibleTenants = try await tx.query("SELECT id FROM tenants")
                var ids: [UUID] = []
                for try await id in visibleTenants.decode(UUID.self) { ids.append(id) }
                #expect(ids == [tenants[0].rawValue])
            }
        }
    }

    @Test("a write into another tenant is refused by the policy")
    func crossTenantWriteRefused() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            await #expect(throws: StoreError.self) {
                try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                    try await tx.audit.append(Self.record("test.sneaky"), to: .tenant(tenants[1]))
                }
            }
        }
    }

    @Test("a tenant of another MSP cannot be selected")
    func otherMSPTenantNotFound() async throws {
        let (msp, _) = try await TestDatabase.makeMSP()
        let (_, otherTenants) = try await TestDatabase.makeMSP()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            await #expect(throws: StoreError.notFound) {
                try await database.withTenant(otherTenants[0], msp: msp, logger: TestDatabase.logger) { _ in }
            }
        }
    }

    @Test("the service role may not update or delete audit events")
    func auditIsAppendOnly() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.append(Self.record("test.kept"), to: .tenant(tenants[0]))
            }
            for statement in ["UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"] {
                await #expect(throws: StoreError.self) {
                    try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                        try await tx.query("\(unescaped: statement)")
                    }
                }
            }
        }
    }
}
