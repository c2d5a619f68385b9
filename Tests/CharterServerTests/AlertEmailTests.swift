import AsyncHTTPClient
import CharterAgent
import CharterCore
import CharterStore
import Foundation
import HTTPTypes
import NIOHTTP1
import NIOCore
import PostgresNIO
import Testing

@testable import CharterServer

/// Alerts by email (docs/alerts.md, "Email") with real processes: a `charter serve` replica with SMTP
/// configured, the SMTP sink and the test database.
///
/// Serialized with the other email suites' reasons: a replica's email worker sends every tenant's due mail.
@Suite("Alert emails", .serialized, .enabled(if: SMTPSink.isAvailable, SMTPSink.unavailable))
struct AlertEmailTests {
    @Test("a device revoked in tenant A emails A's and the MSP's recipients of device.revoked, not B's, nor an unsubscribed or disabled one")
    func revokedDevice() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let (a, b) = (world.tenants[0], world.tenants[1])
        let sink = try await SMTPSink.start()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let replica = try await ServeProcess.start(
                environment: [
                    "CHARTER_SMTP_HOST": "127.0.0.1", "CHARTER_SMTP_PORT": String(sink.port),
                    "CHARTER_SMTP_CA_FILE": sink.certificate, "CHARTER_SMTP_FROM": "Charter <charter@example.test>",
                    "CHARTER_SMTP_TIMEOUT_SECONDS": "10",
                ],
                http: http
            )
            let api = replica.baseURL + "/v1"
            func add(_ path: String, key: String, _ address: String, events: String, enabled: Bool = true) async throws {
                let created = try await PushTests.admin(
                    http, .POST, api + path + "/alert-emails", key: key,
                    body: #"{"address":"\#(address)","events":\#(events),"enabled":\#(enabled)}"#
                )
                #expect(created.status == 201, "\(created.json)")
            }
            try await add("/tenants/\(a)", key: world.tenantKeys[0], "a-ops@example.test", events: #"["device.revoked"]"#)
            try await add("/tenants/\(a)", key: world.tenantKeys[0], "a-sync@example.test", events: #"["directory.sync_failed"]"#)
            try await add(
                "/tenants/\(a)", key: world.tenantKeys[0], "a-off@example.test", events: #"["device.revoked"]"#,
                enabled: false
            )
            try await add("/tenants/\(b)", key: world.tenantKeys[1], "b-ops@example.test", events: #"["device.revoked"]"#)
            try await add("/msps/\(world.msp)", key: world.mspKey, "msp@example.test", events: #"["device.revoked"]"#)

            let token = try #require(
                try await PushTests.admin(
                    http, .POST, api + "/tenants/\(a)/enrollment-tokens", key: world.tenantKeys[0], body: #"{"name":"t"}"#
                ).json["secret"] as? String
            )
            let enrollment = try await AgentClient(httpClient: http, baseURL: replica.baseURL)
                .enroll(token: token, hostname: "WS-17")
            let revoked = try await PushTests.admin(
                http, .DELETE, api + "/tenants/\(a)/devices/\(enrollment.deviceID)", key: world.tenantKeys[0]
            )
            #expect(revoked.status == 204, "\(revoked.json)")

            let tenantMail = try await sink.wait { $0.rcptTos == ["a-ops@example.test"] }
            let mspMail = try await sink.wait { $0.rcptTos == ["msp@example.test"] }
            #expect(tenantMail.headers["Subject"] == "Charter alert: device revoked (Tenant 0)")
            #expect(tenantMail.headers["To"] == "a-ops@example.test")
            #expect(mspMail.headers["To"] == "msp@example.test")
            #expect(tenantMail.headers["Auto-Submitted"] == "auto-generated")
            #expect(tenantMail.headers["Message-ID"] != mspMail.headers["Message-ID"])
            #expect(tenantMail.body.contains("Tenant:"))
            #expect(tenantMail.body.contains("(\(a))"))
            #expect(tenantMail.body.contains("device.revoked"))
            #expect(tenantMail.body.contains("device.hostname:"))
            #expect(tenantMail.body.contains("WS-17"))
            #expect(mspMail.body == tenantMail.body)

            // Nothing else was queued: not B's, the unsubscribed or the disabled recipient.
            try await Task.sleep(for: .seconds(2))
            let all = try sink.messages().flatMap(\.rcptTos)
            #expect(all.sorted() == ["a-ops@example.test", "msp@example.test"])
            #expect(try await replica.terminate() == 0)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    @Test("roles, isolation, 422s and the audit of a tenant's and an MSP's recipients")
    func api() async throws {
        try await TestApp.run { client in
            let world = try await TestApp.makeWorld(tenants: 1)
            let other = try await TestApp.makeWorld(tenants: 1)
            let tenant = "/v1/tenants/\(world.tenants[0])/alert-emails"
            let msp = "/v1/msps/\(world.msp)/alert-emails"
            let body = #"{"address":"ops@example.com","events":["directory.sync_failed"]}"#
            for path in [tenant, msp] {
                let key = path == tenant ? world.tenantKeys[0] : world.mspKey
                for (bad, field) in [
                    (#"{"address":"nope","events":["device.revoked"]}"#, "/address"),
                    // A header smuggled into the address would reach the SMTP envelope and the message.
                    (#"{"address":"ops@example.com\r\nBcc: victim@example.net","events":["device.revoked"]}"#, "/address"),
                    (#"{"address":"ops@example.com","events":[]}"#, "/events"),
                    (#"{"address":"ops@example.com","events":["request.created"]}"#, "/events"),
                ] {
                    let refused = try await client.call(.post, path, key: key, body: bad)
                    #expect(refused.status.code == 422 && refused.problemField == field, "\(bad): \(refused.json)")
                }
                let created = try await client.call(.post, path, key: key, body: body)
                #expect(created.status == .created, "\(created.json)")
                let id = try #require(created.json["id"] as? String)
                let changed = try await client.call(.patch, path + "/\(id)", key: key, body: #"{"enabled":false}"#)
                // The fixture reads every JSON boolean as a Double.
                #expect(changed.status == .ok && changed.json["enabled"] as? Double == 0, "\(changed.json)")
                let listed = try await client.call(.get, path, key: key)
                #expect((listed.json["items"] as? [Any])?.count == 1)
                #expect(try await client.call(.delete, path + "/\(id)", key: key).status == .noContent)
                // Another MSP's key never finds them.
                #expect(try await client.call(.get, path, key: other.mspKey).status == .notFound)
            }
            // A tenant-scoped key has no MSP-wide route.
            #expect(try await client.call(.get, msp, key: world.tenantKeys[0]).status == .forbidden)
            let actions = try await TestApp.withService { database in
                try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                    let rows = try await tx.query(
                        "SELECT action FROM msp_audit_events WHERE msp_id = \(world.msp.rawValue) ORDER BY seq"
                    )
                    var actions: [String] = []
                    for try await action in rows.decode(String.self) { actions.append(action) }
                    return actions
                }
            }
            #expect(actions.suffix(3) == ["msp_alert_email.created", "msp_alert_email.updated", "msp_alert_email.deleted"])
        }
    }

    @Test("a tenant-scoped transaction sees no MSP recipient; the MSP's transaction does")
    func isolation() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.withService { database in
            let recipient = AlertEmail(
                id: UUID(), address: "msp@example.com", events: ["device.revoked"], isEnabled: true, createdAt: Date()
            )
            try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                try await tx.alertEmails(of: .msp(world.msp)).create(recipient, by: nil)
            }
            let seen = try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.query("SELECT count(*) FROM msp_alert_emails").decode(Int64.self).first { _ in true }
            }
            #expect(seen == 0)
            let own = try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                try await tx.alertEmails(of: .msp(world.msp)).list()
            }
            #expect(own.map(\.address) == [recipient.address])
        }
    }
}
