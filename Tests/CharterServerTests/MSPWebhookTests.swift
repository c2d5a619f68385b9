import CharterBundle
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Webhooks at MSP level (docs/alerts.md, "MSP webhooks"): one receives the events of every tenant of its MSP,
/// through the running application's delivery worker, each naming its tenant; another MSP's receives none of
/// them; only MSP-wide principals reach them, and a tenant-scoped connection never reads them.
@Suite("MSP webhooks")
struct MSPWebhookTests {
    static func body(_ delivery: WebhookFlowTests.Inbox.Delivery) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: delivery.body) as? [String: Any])
    }

    static func hook(_ port: Int?) throws -> String {
        let events = AlertEvent.all.map { "\"\($0)\"" }.joined(separator: ",")
        let port = try #require(port)
        return #"{"url":"http://127.0.0.1:\#(port)/hook","events":[\#(events)]}"#
    }

    @Test("an MSP webhook receives the events of two of its tenants, each naming its tenant; another MSP's webhook receives only its own MSP's")
    func receivesEveryTenantsEvents() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let (a, b) = (world.tenants[0], world.tenants[1])
        let other = try await TestApp.makeWorld(tenants: 1)
        let inbox = WebhookFlowTests.Inbox(failsFirst: false)
        let otherInbox = WebhookFlowTests.Inbox(failsFirst: false)
        try await WebhookFlowTests.receiver(inbox).test(.live) { receiver in
            try await WebhookFlowTests.receiver(otherInbox).test(.live) { otherReceiver in
                try await TestApp.run(TestApp.sealingConfig) { client in
                    let created = try await client.call(
                        .post, "/v1/msps/\(world.msp)/webhooks", key: world.mspKey, body: try Self.hook(receiver.port)
                    )
                    #expect(created.status == .created, "\(created.json)")
                    let webhook = try #require((created.json["webhook"] as? [String: Any])?["id"] as? String)
                    let secretText = try #require(created.json["secret"] as? String)
                    let secret = try #require(Base64URL.decode(secretText))
                    let otherCreated = try await client.call(
                        .post, "/v1/msps/\(other.msp)/webhooks", key: other.mspKey,
                        body: try Self.hook(otherReceiver.port)
                    )
                    #expect(otherCreated.status == .created, "\(otherCreated.json)")

                    // Tenant a: a broken chain. Tenant b: a device revoked through the API. The other MSP's
                    // tenant: a broken chain.
                    try await TestApp.withService { database in
                        let alerts = AlertService(database: database)
                        try await alerts.chainBroken(
                            tenant: a, msp: world.msp, breakSequence: 3, reason: "hash mismatch", eventsChecked: 4,
                            logger: TestApp.logger
                        )
                        try await alerts.chainBroken(
                            tenant: other.tenants[0], msp: other.msp, breakSequence: 5, reason: "gap", eventsChecked: 6,
                            logger: TestApp.logger
                        )
                    }
                    let token = try await EndpointTests.createToken(client, tenant: b, key: world.tenantKeys[1])
                    var device = TestDevice()
                    try await device.enroll(client, token: token.secret, hostname: "MSP-HOOK-1")
                    let revoked = try await client.call(
                        .delete, "/v1/tenants/\(b)/devices/\(device.id)", key: world.tenantKeys[1]
                    )
                    #expect(revoked.status == .noContent, "\(revoked.json)")

                    let broken = try await inbox.wait(for: AlertEvent.chainBroken)
                    #expect(WebhookFlowTests.verify(broken, secret: secret))
                    #expect(try Self.body(broken)["tenant_id"] as? String == a.description)
                    #expect((try Self.body(broken)["audit_chain"] as? [String: Any])?["first_break_sequence"] as? Int == 3)
                    let gone = try await inbox.wait(for: AlertEvent.deviceRevoked)
                    #expect(WebhookFlowTests.verify(gone, secret: secret))
                    #expect(try Self.body(gone)["tenant_id"] as? String == b.description)
                    #expect((try Self.body(gone)["device"] as? [String: Any])?["id"] as? String == device.id)
                    let otherBroken = try await otherInbox.wait(for: AlertEvent.chainBroken)
                    #expect(try Self.body(otherBroken)["tenant_id"] as? String == other.tenants[0].description)

                    // The deliveries log names each delivery's tenant; wait (bounded) until both are recorded.
                    var items: [[String: any Sendable]] = []
                    for _ in 0..<100 {
                        items = try await client.call(
                            .get, "/v1/msps/\(world.msp)/webhooks/\(webhook)/deliveries", key: world.mspKey
                        ).items
                        if items.count == 2, items.allSatisfy({ $0["status"] as? String == "delivered" }) { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    #expect(items.compactMap { $0["tenant_id"] as? String }.sorted() == [a.description, b.description].sorted())
                    #expect(items.allSatisfy { $0["status"] as? String == "delivered" })

                    // Exactly these: once each, and nothing of the other MSP (nor it of ours).
                    #expect(inbox.deliveries.map(\.event).sorted() == [AlertEvent.chainBroken, AlertEvent.deviceRevoked])
                    #expect(otherInbox.deliveries.map(\.event) == [AlertEvent.chainBroken])
                    #expect(otherInbox.deliveries.allSatisfy {
                        (try? Self.body($0))?["tenant_id"] as? String == other.tenants[0].description
                    })
                }
            }
        }
    }

    @Test("a tenant admin cannot create, read, change or delete MSP webhooks; an MSP auditor reads but cannot change them; another MSP's key finds none")
    func onlyMSPRoles() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let other = try await TestApp.makeWorld(tenants: 1)
        let auditor = try await TestApp.withOwner { database in
            try await Bootstrap(database: database, logger: TestApp.logger, actorName: "tests")
                .createAPIKey(name: "msp auditor", role: .auditor, scope: .msp(world.msp))
        }
        try await TestApp.run(TestApp.sealingConfig) { client in
            let base = "/v1/msps/\(world.msp)/webhooks"
            let body = #"{"url":"https://hooks.example.com/msp","events":["device.revoked"]}"#
            let created = try await client.call(.post, base, key: world.mspKey, body: body)
            #expect(created.status == .created, "\(created.json)")
            let id = try #require((created.json["webhook"] as? [String: Any])?["id"] as? String)

            // The tenant's owner (a tenant-scoped key): refused as on the other MSP-wide routes.
            let tenantKey = world.tenantKeys[0]
            for (method, path, payload) in [
                (HTTPRequest.Method.post, base, body), (.get, base, nil), (.get, "\(base)/\(id)", nil),
                (.get, "\(base)/\(id)/deliveries", nil), (.patch, "\(base)/\(id)", #"{"enabled":false}"#),
                (.delete, "\(base)/\(id)", nil),
            ] as [(HTTPRequest.Method, String, String?)] {
                let answer = try await client.call(method, path, key: tenantKey, body: payload)
                #expect(answer.status == .forbidden, "\(method) \(path) answered \(answer.status.code)")
                #expect(!"\(answer.json)".contains("hooks.example.com"))
                let stranger = try await client.call(method, path, key: other.mspKey, body: payload)
                #expect(stranger.status == .notFound, "\(method) \(path) answered \(stranger.status.code)")
            }
            // An MSP-wide auditor reads, but neither creates nor deletes.
            #expect(try await client.call(.get, base, key: auditor).items.count == 1)
            #expect(try await client.call(.get, "\(base)/\(id)", key: auditor).json["url"] as? String == "https://hooks.example.com/msp")
            #expect(try await client.call(.post, base, key: auditor, body: body).status == .forbidden)
            #expect(try await client.call(.delete, "\(base)/\(id)", key: auditor).status == .forbidden)
            #expect(try await client.call(.patch, "\(base)/\(id)", key: auditor, body: #"{"enabled":false}"#).status == .forbidden)
            // The MSP's key changes it; a bad URL or no event is refused naming the field, changing nothing.
            let patched = try await client.call(
                .patch, "\(base)/\(id)", key: world.mspKey,
                body: #"{"enabled":false,"events":["audit.chain_broken","device.revoked"]}"#
            )
            #expect(patched.status == .ok, "\(patched.json)")
            // The fixture reads every JSON number and boolean as a Double.
            #expect(patched.json["enabled"] as? Double == 0, "\(patched.json)")
            #expect(patched.json["events"] as? [String] == ["audit.chain_broken", "device.revoked"])
            for (bad, field) in [(#"{"url":"ftp://hooks.example.com/"}"#, "/url"), (#"{"events":[]}"#, "/events")] {
                let refused = try await client.call(.patch, "\(base)/\(id)", key: world.mspKey, body: bad)
                #expect(refused.status.code == 422 && refused.problemField == field, "\(bad): \(refused.json)")
            }
            #expect(try await client.call(.get, "\(base)/\(id)", key: world.mspKey).json["url"] as? String == "https://hooks.example.com/msp")
            // The answer never carries the secret again.
            #expect(try await client.call(.get, "\(base)/\(id)", key: world.mspKey).json["secret"] == nil)
            #expect(try await client.call(.delete, "\(base)/\(id)", key: world.mspKey).status == .noContent)
            #expect(try await client.call(.get, "\(base)/\(id)", key: world.mspKey).status == .notFound)
        }
        let audit = try await TestApp.withOwner { database in
            try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                var rows: [(String, String?, String?)] = []
                for try await row in try await tx.query(
                    """
                    SELECT action, before::text, after::text FROM msp_audit_events
                    WHERE msp_id = \(world.msp.rawValue) AND action LIKE 'msp_webhook.%' ORDER BY seq
                    """
                ).decode((String, String?, String?).self) { rows.append(row) }
                return rows
            }
        }
        #expect(audit.map(\.0) == ["msp_webhook.created", "msp_webhook.updated", "msp_webhook.deleted"])
        #expect(audit.allSatisfy { !("\($0.1 ?? "")\($0.2 ?? "")").contains("secret") })
    }

    @Test("a tenant-scoped transaction sees no MSP webhook nor delivery, even of its own MSP; a disabled one is queued nothing")
    func tenantConnectionReadsNoMSPRows() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let created = try await client.call(
                .post, "/v1/msps/\(world.msp)/webhooks", key: world.mspKey,
                body: #"{"url":"https://hooks.example.com/msp","events":["audit.chain_broken"]}"#
            )
            #expect(created.status == .created, "\(created.json)")
        }
        try await TestApp.withService { database in
            try await AlertService(database: database).chainBroken(
                tenant: tenant, msp: world.msp, breakSequence: 1, reason: "gap", eventsChecked: 1, logger: TestApp.logger
            )
            func count(_ table: String, _ tx: Transaction) async throws -> Int {
                var total = 0
                for try await value in try await tx.query("SELECT count(*)::int FROM \(unescaped: table)").decode(Int.self) {
                    total = value
                }
                return total
            }
            let inTenant = try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                [try await count("msp_webhooks", tx), try await count("msp_webhook_deliveries", tx)]
            }
            #expect(inTenant == [0, 0])
            let inMSP = try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                [try await count("msp_webhooks", tx), try await count("msp_webhook_deliveries", tx)]
            }
            #expect(inMSP == [1, 1])
        }
        // Disabled, it is queued nothing more.
        try await TestApp.run(TestApp.sealingConfig) { client in
            let hooks = try await client.call(.get, "/v1/msps/\(world.msp)/webhooks", key: world.mspKey).items
            let id = try #require(hooks.first?["id"] as? String)
            let patched = try await client.call(
                .patch, "/v1/msps/\(world.msp)/webhooks/\(id)", key: world.mspKey, body: #"{"enabled":false}"#
            )
            #expect(patched.status == .ok, "\(patched.json)")
        }
        try await TestApp.withService { database in
            try await AlertService(database: database).chainBroken(
                tenant: tenant, msp: world.msp, breakSequence: 2, reason: "gap", eventsChecked: 2, logger: TestApp.logger
            )
            let queued = try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                var total = 0
                for try await value in try await tx.query("SELECT count(*)::int FROM msp_webhook_deliveries")
                    .decode(Int.self) { total = value }
                return total
            }
            #expect(queued == 1)
        }
    }
}
