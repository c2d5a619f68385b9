import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Alerts beyond requests (docs/alerts.md): each fires once per occurrence, through the delivery worker of a
/// running application, to a loopback receiver, and a tenant's webhook receives only its own tenant's.
@Suite("Alerts to webhooks")
struct AlertTests {
    /// The deliveries queued for the tenant's webhooks, by event.
    static func queued(_ tenant: TenantID, _ world: TestApp.World) async throws -> [String: Int] {
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                let rows = try await tx.query(
                    "SELECT event, count(*)::int FROM webhook_deliveries WHERE tenant_id = \(tenant.rawValue) GROUP BY event"
                )
                var counts: [String: Int] = [:]
                for try await row in rows.decode((String, Int).self) { counts[row.0] = row.1 }
                return counts
            }
        }
    }

    static func payload(_ delivery: WebhookFlowTests.Inbox.Delivery) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any])
    }

    @Test("a held and a failed sync and a broken chain in one tenant, a rejected bundle and a revoked device in another: each once, to its tenant's webhook only")
    func alerts() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let (a, b) = (world.tenants[0], world.tenants[1])
        let inboxA = WebhookFlowTests.Inbox(failsFirst: false)
        let inboxB = WebhookFlowTests.Inbox(failsFirst: false)
        let syncs = DirectorySyncTests()
        try await WebhookFlowTests.receiver(inboxA).test(.live) { receiverA in
            try await WebhookFlowTests.receiver(inboxB).test(.live) { receiverB in
                try await TestApp.run(TestApp.sealingConfig) { client in
                    let events = AlertEvent.all.map { "\"\($0)\"" }.joined(separator: ",")
                    for (tenant, key, port) in [
                        (a, world.tenantKeys[0], try #require(receiverA.port)),
                        (b, world.tenantKeys[1], try #require(receiverB.port)),
                    ] {
                        let created = try await client.call(
                            .post, "/v1/tenants/\(tenant)/webhooks", key: key,
                            body: #"{"url":"http://127.0.0.1:\#(port)/hook","events":[\#(events)]}"#
                        )
                        #expect(created.status == .created, "\(created.json)")
                    }

                    // Tenant a: a sync held by the deletion guard, then one that fails, then a broken chain.
                    let ldap = try await syncs.domain.connect()
                    let ou = try await syncs.domain.makeOU(ldap, "alerts")
                    let dns = try await syncs.populate(ldap, ou)
                    let guarded = try await syncs.domain.makeConnection(
                        tenant: a, msp: world.msp, base: ou, threshold: DeletionThreshold(objects: 1, percent: 100)
                    )
                    #expect(try await syncs.sync(world, guarded).status == .succeeded)
                    try await ldap.delete(try #require(dns["lonely"]))
                    try await ldap.delete(try #require(dns["carol"]))
                    #expect(try await syncs.sync(world, guarded).status == .needsConfirmation)
                    let down = try await syncs.domain.makeConnection(
                        tenant: a, msp: world.msp, base: ou, urls: ["ldap://127.0.0.1:1"]
                    )
                    #expect(try await syncs.sync(world, down).status == .failed)
                    try await TestApp.withService { database in
                        try await AlertService(database: database).chainBroken(
                            tenant: a, msp: world.msp, breakSequence: 7, reason: "hash mismatch", eventsChecked: 9,
                            logger: TestApp.logger
                        )
                    }

                    // Tenant b: a bundle rejected (sent twice: one event), another endpoint event, a device
                    // revoked (twice: revoked once).
                    let token = try await EndpointTests.createToken(client, tenant: b, key: world.tenantKeys[1])
                    var device = TestDevice()
                    try await device.enroll(client, token: token.secret, hostname: "ALERT-1")
                    let report = """
                        {"events":[
                          {"id":"\(UUID())","type":"bundle.rejected","occurred_at":"2026-12-07T10:15:02Z",
                           "details":{"code":"bundle.version_downgrade","detail":"held 3, got 2"}},
                          {"id":"\(UUID())","type":"pin.accepted","occurred_at":"2026-12-07T10:16:00Z"}]}
                        """
                    #expect(try await client.call(.post, "/v1/agent/audit", key: device.token, body: report).status == .ok)
                    #expect(try await client.call(.post, "/v1/agent/audit", key: device.token, body: report).status == .ok)
                    for _ in 0..<2 {
                        let revoked = try await client.call(
                            .delete, "/v1/tenants/\(b)/devices/\(device.id)", key: world.tenantKeys[1]
                        )
                        #expect(revoked.status == .noContent, "\(revoked.json)")
                    }

                    #expect(
                        try await Self.queued(a, world)
                            == [AlertEvent.syncHeld: 1, AlertEvent.syncFailed: 1, AlertEvent.chainBroken: 1]
                    )
                    #expect(try await Self.queued(b, world) == [AlertEvent.bundleRejected: 1, AlertEvent.deviceRevoked: 1])

                    let held = try Self.payload(try await inboxA.wait(for: AlertEvent.syncHeld))
                    #expect(held["tenant_id"] as? String == a.description)
                    let heldRun = try #require(held["sync_run"] as? [String: Any])
                    #expect(heldRun["connection_id"] as? String == guarded.id.description)
                    #expect(heldRun["pending_deletions"] as? Int == 2)
                    let failed = try Self.payload(try await inboxA.wait(for: AlertEvent.syncFailed))
                    let failedRun = try #require(failed["sync_run"] as? [String: Any])
                    #expect(failedRun["connection_id"] as? String == down.id.description)
                    #expect((failedRun["error"] as? String)?.hasPrefix("LDAP:") == true)
                    let broken = try Self.payload(try await inboxA.wait(for: AlertEvent.chainBroken))
                    #expect((broken["audit_chain"] as? [String: Any])?["first_break_sequence"] as? Int == 7)

                    let rejected = try Self.payload(try await inboxB.wait(for: AlertEvent.bundleRejected))
                    #expect(rejected["tenant_id"] as? String == b.description)
                    let rejection = try #require(rejected["rejection"] as? [String: Any])
                    #expect(rejection["device_id"] as? String == device.id && rejection["hostname"] as? String == "ALERT-1")
                    #expect("\(rejection["report"] ?? "")".contains("bundle.version_downgrade"))
                    let revoked = try Self.payload(try await inboxB.wait(for: AlertEvent.deviceRevoked))
                    #expect((revoked["device"] as? [String: Any])?["id"] as? String == device.id)

                    // Each receiver got its own tenant's alerts, once each.
                    #expect(inboxA.deliveries.map(\.event).sorted()
                        == [AlertEvent.chainBroken, AlertEvent.syncFailed, AlertEvent.syncHeld].sorted())
                    #expect(inboxB.deliveries.map(\.event).sorted()
                        == [AlertEvent.bundleRejected, AlertEvent.deviceRevoked].sorted())
                    #expect(inboxA.deliveries.allSatisfy { (try? Self.payload($0))?["tenant_id"] as? String == a.description })
                    #expect(inboxB.deliveries.allSatisfy { (try? Self.payload($0))?["tenant_id"] as? String == b.description })
                }
            }
        }
    }
}
