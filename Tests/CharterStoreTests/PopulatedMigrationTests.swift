import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

/// The migrations since the first release of the schema, applied to a database that already holds tenants,
/// devices, tokens and deliveries: what row-level security is forced on, and columns added with their
/// fill-in values, must neither lose rows nor leave them unreadable to the service.
@Suite("Migrations over a populated database")
struct PopulatedMigrationTests {
    /// The migrations the data below is written for (before FORCE ROW LEVEL SECURITY, migration 0011).
    static let populatedAt = 10

    @Test("rows written at migration 0010 survive 0011 onwards and are read by the service within their tenant only")
    func populatedUpgrade() async throws {
        try await MigratorTests.withScratchDatabase { ownerURL in
            let migrations = try Migration.bundled()
            let msp = MSPID.random()
            let tenants = [TenantID.random(), TenantID.random()]
            let devices = [DeviceID.random(), DeviceID.random()]
            try await TestDatabase.with(ownerURL) { owner in
                let logger = TestDatabase.logger
                _ = try await Migrator(migrations: Array(migrations.prefix(Self.populatedAt)))
                    .migrate(client: owner.client, logger: logger)
                try await owner.client.query("INSERT INTO msps (id, name) VALUES (\(msp.rawValue), 'Old MSP')", logger: logger)
                for (index, tenant) in tenants.enumerated() {
                    let webhook = UUID()
                    try await owner.client.withTransaction(logger: logger) { connection in
                        try await connection.query(
                            "INSERT INTO tenants (id, msp_id, name) VALUES (\(tenant.rawValue), \(msp.rawValue), \("Tenant \(index)"))",
                            logger: logger
                        )
                        try await connection.query(
                            """
                            INSERT INTO enrollment_tokens (tenant_id, id, name, secret_hash, created_at)
                            VALUES (\(tenant.rawValue), \(UUID()), 'laptops', \(Data(repeating: 7, count: 32)), now())
                            """,
                            logger: logger
                        )
                        try await connection.query(
                            """
                            INSERT INTO devices (tenant_id, id, hostname, agent_version, encryption_key, signing_key,
                                                 token_hash, pin_secret_sealed, enrolled_at)
                            VALUES (\(tenant.rawValue), \(devices[index].rawValue), \("PC-\(index)"), '1.0.0',
                                    \(Data(repeating: 1, count: 32)), \(Data(repeating: UInt8(2 + index), count: 32)),
                                    \(Data(repeating: 3, count: 32)), 'sealed', now())
                            """,
                            logger: logger
                        )
                        try await connection.query(
                            """
                            INSERT INTO webhooks (tenant_id, id, url, events, secret_sealed, created_at)
                            VALUES (\(tenant.rawValue), \(webhook), 'https://hooks.example.test/charter',
                                    ARRAY['request.created'], 'sealed', now())
                            """,
                            logger: logger
                        )
                        try await connection.query(
                            """
                            INSERT INTO webhook_deliveries (tenant_id, id, webhook_id, event, payload, status,
                                                            next_attempt_at, created_at)
                            VALUES (\(tenant.rawValue), \(UUID()), \(webhook), 'request.created', '{}', 'pending', now(), now())
                            """,
                            logger: logger
                        )
                    }
                }
                let upgrade = try await Migrator(migrations: migrations).migrate(client: owner.client, logger: logger)
                #expect(upgrade.applied.count == migrations.count - Self.populatedAt)
            }

            var components = URLComponents(string: TestDatabase.appURL)!
            components.path = URLComponents(string: ownerURL)!.path
            try await TestDatabase.with(components.string!) { service in
                let logger = TestDatabase.logger
                for (index, tenant) in tenants.enumerated() {
                    let credential = try await service.readWithoutTenant(logger: logger) { tx in
                        try await tx.devices.credential(for: devices[index])
                    }
                    let found = try #require(credential, "the device authenticates after the upgrade")
                    #expect(found.tenant == tenant && found.msp == msp && !found.isPendingApproval)
                    #expect(abs(found.tokenExpiresAt.timeIntervalSinceNow - 86_400) < 600, "old tokens live one more day")
                    try await service.withTenant(tenant, msp: msp, logger: logger) { tx in
                        let device = try await tx.devices.get(tenant, id: devices[index])
                        #expect(device.hostname == "PC-\(index)")
                        let other = devices[1 - index]
                        await #expect(throws: StoreError.notFound) { try await tx.devices.get(tenant, id: other) }
                        let rows = try await tx.query(
                            "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND claim_token IS NULL"
                        )
                        for try await count in rows.decode(Int64.self) { #expect(count == 1, "only this tenant's delivery") }
                    }
                }
            }
        }
    }
}
