import AsyncHTTPClient
import CharterAgent
import CharterCore
import CharterServices
import CharterStore
import Foundation
import HummingbirdTesting
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PostgresNIO
import Testing

@testable import CharterServer

/// Email to approvers with real processes: a `charter serve` replica configured through `CHARTER_SMTP_*`, an
/// SMTP server (aiosmtpd) with STARTTLS and AUTH, and the test database.
///
/// Serialized: a replica's email worker sends every tenant's due deliveries, so two of these at once would take
/// each other's mail.
@Suite("Email to approvers", .serialized, .enabled(if: SMTPSink.isAvailable, SMTPSink.unavailable))
struct EmailFlowTests {
    /// One row of `email_deliveries`, as the tests read it.
    struct Delivery: Sendable, Equatable {
        var event: String
        var recipient: String
        var status: String
        var attempts: Int
        var replyCode: Int?
        var error: String?
        var isSent: Bool
        var nextAttemptAt: Date
    }

    static func deliveries(in world: TestApp.World) async throws -> [Delivery] {
        try await TestApp.withService { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                let rows = try await tx.query(
                    """
                    SELECT m.event, d.recipient, d.status, d.attempts, d.last_reply_code, d.last_error,
                           d.sent_at IS NOT NULL, d.next_attempt_at
                    FROM email_deliveries d JOIN email_messages m ON m.tenant_id = d.tenant_id AND m.id = d.message_id
                    ORDER BY m.created_at, d.recipient
                    """
                )
                var deliveries: [Delivery] = []
                for try await row in rows.decode((String, String, String, Int, Int?, String?, Bool, Date).self) {
                    deliveries.append(Delivery(
                        event: row.0, recipient: row.1, status: row.2, attempts: row.3, replyCode: row.4, error: row.5,
                        isSent: row.6, nextAttemptAt: row.7
                    ))
                }
                return deliveries
            }
        }
    }

    /// Runs `statement` as the schema owner (which may change what the service role may not) in the world's tenant.
    static func asOwner(_ world: TestApp.World, _ statement: PostgresQuery) async throws {
        _ = try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.query(statement)
            }
        }
    }

    /// Submits a request in a fresh world and runs `queue` with it in a service transaction (to queue its email).
    static func submitted(
        _ client: some TestClientProtocol, queue: @Sendable (StoredRequest, Transaction) async throws -> Void
    ) async throws -> (RequestTests.Setup, UUID) {
        let setup = try await RequestTests.setUp(client)
        let submitted = try await RequestTests.submit(client, setup, body: RequestTests.installer)
        let text = try #require(submitted.json["id"] as? String)
        let id = try #require(UUID(uuidString: text))
        try await TestApp.withService { database in
            try await database.withTenant(setup.tenant, msp: setup.world.msp, logger: TestApp.logger) { tx in
                try await queue(try await tx.requests.get(id), tx)
            }
        }
        return (setup, id)
    }

    @Test("a pending request emails the policy's approvers over STARTTLS with AUTH; a refused address fails alone; expiry emails them again")
    func pendingAndExpired() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let sink = try await SMTPSink.start(credentials: (user: "charter", password: "s3cret pass"), rejecting: ["gone@example.test"])
        let passwordFile = sink.directory.appendingPathComponent("smtp-password")
        try Data("s3cret pass\n".utf8).write(to: passwordFile)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let replica = try await ServeProcess.start(
                environment: [
                    "CHARTER_SMTP_HOST": "127.0.0.1", "CHARTER_SMTP_PORT": String(sink.port),
                    "CHARTER_SMTP_CA_FILE": sink.certificate, "CHARTER_SMTP_USERNAME": "charter",
                    "CHARTER_SMTP_PASSWORD_FILE": passwordFile.path,
                    "CHARTER_SMTP_FROM": "Charter Approvals <charter@example.test>",
                    "CHARTER_SMTP_TIMEOUT_SECONDS": "10",
                ],
                http: http
            )
            let base = replica.baseURL + "/v1/tenants/\(tenant)"
            let settings = try await PushTests.admin(
                http, .PUT, base + "/settings", key: key,
                body: #"{"schema_version":1,"approval":{"notify_emails":["it@example.test","desk@example.test","gone@example.test"]}}"#
            )
            #expect(settings.status == 200, "\(settings.json)")
            let created = try await PushTests.admin(http, .POST, base + "/enrollment-tokens", key: key, body: #"{"name":"mail"}"#)
            let token = try #require(created.json["secret"] as? String)
            let enrollment = try await AgentClient(httpClient: http, baseURL: replica.baseURL).enroll(token: token, hostname: "MAIL-1")

            var submit = HTTPClientRequest(url: replica.baseURL + "/v1/agent/requests")
            submit.method = .POST
            submit.headers.add(name: "Authorization", value: "Bearer \(enrollment.deviceToken)")
            submit.headers.add(name: "Content-Type", value: "application/json")
            submit.body = .bytes(
                ByteBuffer(
                    string: #"{"kind":"run_as_admin","user":{"upn":"ann@example.test"},"application":{"file_name":"Über-Tool.exe"},"reason":"Monatsabschluss – bitte"}"#
                )
            )
            let submitted = try await http.execute(submit, timeout: .seconds(30))
            #expect(submitted.status == .created)
            let answer = try JSONSerialization.jsonObject(with: Data(buffer: try await submitted.body.collect(upTo: 1 << 20))) as? [String: Any]
            #expect(answer?["status"] as? String == "pending")
            let requestID = try #require(answer?["id"] as? String)

            let mail = try await sink.wait { $0.body.contains(requestID) }
            #expect(mail.rcptTos == ["it@example.test", "desk@example.test"])
            #expect(mail.mailFrom == "charter@example.test")
            #expect(mail.tls)
            #expect(mail.authUser == "charter")
            #expect(mail.headers["From"] == "Charter Approvals <charter@example.test>")
            #expect(mail.headers["To"] == "it@example.test, desk@example.test, gone@example.test")
            #expect(mail.headers["Subject"] == "Approval needed: Über-Tool.exe for ann@example.test on MAIL-1")
            #expect(mail.headers["Message-ID"]?.hasSuffix("@example.test>") == true)
            #expect(mail.headers["Auto-Submitted"] == "auto-generated")
            #expect(mail.headers["Date"] != nil)
            #expect(mail.contentType == "text/plain")
            #expect(mail.charset == "utf-8")
            #expect(mail.transferEncoding == "quoted-printable")
            for expected in [
                "Tenant:       Tenant 0 (\(tenant))", "User:         ann@example.test", "Computer:     MAIL-1",
                "Application:  Über-Tool.exe", "Reason:       Monatsabschluss – bitte", "Policy:       global settings",
                "Request id:   \(requestID)", "POST /v1/tenants/\(tenant)/requests/\(requestID)/approve",
            ] {
                #expect(mail.body.contains(expected), "\(expected)")
            }
            for secret in [key, token, enrollment.deviceToken, "s3cret pass"] {
                #expect(!mail.raw.contains(secret))
            }
            #expect(mail.raw.utf8.allSatisfy { $0 < 128 })

            // The refused address is recorded once the session is: failed for good, with the server's reply.
            var rows: [Delivery] = []
            for _ in 0..<100 {
                rows = try await Self.deliveries(in: world)
                if rows.count == 3, rows.allSatisfy({ $0.status != "pending" }) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(rows.map(\.recipient) == ["desk@example.test", "gone@example.test", "it@example.test"])
            #expect(rows.map(\.status) == ["sent", "failed", "sent"])
            #expect(rows.map(\.attempts) == [1, 1, 1])
            #expect(rows.map(\.replyCode) == [250, 550, 250])
            #expect(rows.map(\.isSent) == [true, false, true])
            #expect(rows[1].error?.contains("no such user") == true)
            let metrics = try await http.execute(HTTPClientRequest(url: replica.baseURL + "/metrics"), timeout: .seconds(10))
            let exposition = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
            #expect(exposition.contains(#"charter_email_deliveries{outcome="sent"} 2"#))
            #expect(exposition.contains(#"charter_email_deliveries{outcome="failed"} 1"#))

            try await Self.asOwner(
                world, "UPDATE elevation_requests SET expires_at = now() - interval '1 second' WHERE tenant_id = \(tenant.rawValue)"
            )
            try await TestApp.withService { database in
                try await RequestExpiryService(
                    requests: RequestService(database: database, emailsApprovers: true), interval: .seconds(60),
                    logger: TestApp.logger
                )
                    .expireDue(now: Date())
            }
            let expired = try await sink.wait { $0.body.contains(requestID) && $0.headers["Subject"]?.hasPrefix("Request expired:") == true }
            #expect(expired.rcptTos == ["it@example.test", "desk@example.test"])
            #expect(expired.body.contains("nobody approved or denied it in time"))
            #expect(try await replica.terminate() == 0)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    @Test("a failing delivery is recorded and retried with backoff: no server, then 451, then accepted; after 10 attempts it fails for good")
    func retries() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            // As a pending request under a policy with notify_emails queues it, in the service's transaction.
            let (setup, id) = try await Self.submitted(client) { request, tx in
                try await ApprovalEmailOutbox.email(.pending, about: request, to: ["it@example.test"], in: tx, at: Date())
            }
            let sink = try await SMTPSink.start(credentials: SMTPClientTests.credentials, failingData: 1)
            let nowhere = try SMTPClientTests.RefusingPort()
            func deliver(port: Int) async throws {
                var configuration = SMTPConfiguration(host: "127.0.0.1", port: port, from: Mailbox(address: "charter@example.test"))
                configuration.caFile = sink.certificate
                configuration.credentials = .init(
                    username: SMTPClientTests.credentials.user, password: SMTPClientTests.credentials.password
                )
                configuration.timeoutSeconds = 5
                configuration.retryBaseSeconds = 60
                let client = try SMTPClient(configuration: configuration)
                try await TestApp.withService { database in
                    try await EmailDeliveryService(database: database, client: client, pollInterval: .seconds(60), logger: TestApp.logger)
                        .deliverDue()
                }
            }
            let makeDue: PostgresQuery =
                "UPDATE email_deliveries SET next_attempt_at = now() WHERE tenant_id = \(setup.tenant.rawValue) AND status = 'pending'"

            try await deliver(port: nowhere.port)
            var row = try #require(try await Self.deliveries(in: setup.world).first)
            #expect(row.status == "pending" && row.attempts == 1 && row.replyCode == nil)
            #expect(row.error?.contains("cannot connect") == true, "\(row.error ?? "")")
            #expect(row.nextAttemptAt > Date().addingTimeInterval(40), "the first retry waits about the base delay")
            try await deliver(port: sink.port)
            #expect(try await Self.deliveries(in: setup.world).first?.attempts == 1, "not due yet: not tried")

            try await Self.asOwner(setup.world, makeDue)
            try await deliver(port: sink.port)
            row = try #require(try await Self.deliveries(in: setup.world).first)
            #expect(row.status == "pending" && row.attempts == 2 && row.replyCode == 451)
            #expect(row.error?.contains("451 4.3.0 try again later") == true, "\(row.error ?? "")")
            #expect(row.nextAttemptAt > Date().addingTimeInterval(80), "the second retry waits about twice as long")

            try await Self.asOwner(setup.world, makeDue)
            try await deliver(port: sink.port)
            row = try #require(try await Self.deliveries(in: setup.world).first)
            #expect(row.status == "sent" && row.attempts == 3 && row.replyCode == 250 && row.error == nil && row.isSent)
            #expect(try sink.messages().filter { $0.body.contains(id.uuidString.lowercased()) }.count == 1)

            try await TestApp.withService { database in
                try await database.withTenant(setup.tenant, msp: setup.world.msp, logger: TestApp.logger) { tx in
                    let request = try await tx.requests.get(id)
                    try await ApprovalEmailOutbox.email(.expired, about: request, to: ["it@example.test"], in: tx, at: Date())
                }
            }
            try await Self.asOwner(
                setup.world,
                "UPDATE email_deliveries SET attempts = \(EmailDeliveryService.maximumAttempts - 1) WHERE tenant_id = \(setup.tenant.rawValue) AND status = 'pending'"
            )
            try await deliver(port: nowhere.port)
            let last = try #require(try await Self.deliveries(in: setup.world).last)
            #expect(last.event == "request.expired")
            #expect(last.status == "failed" && last.attempts == EmailDeliveryService.maximumAttempts && !last.isSent)
        }
    }

    @Test("past half its lease, the rest of a claim is handed back untried and due at once for any replica")
    func halfLease() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            // Both due now, the pending one first.
            let (setup, _) = try await Self.submitted(client) { request, tx in
                let now = Date()
                try await ApprovalEmailOutbox.email(
                    .pending, about: request, to: ["it@example.test"], in: tx, at: now.addingTimeInterval(-1)
                )
                try await ApprovalEmailOutbox.email(.expired, about: request, to: ["it@example.test"], in: tx, at: now)
            }
            // A server that never greets: the first message takes the whole 2 s timeout, past half of a 3 s lease.
            try await SMTPClientTests.silentServer { port, _ in
                var configuration = SMTPConfiguration(
                    host: "127.0.0.1", port: port, from: Mailbox(address: "charter@example.test")
                )
                configuration.timeoutSeconds = 2
                configuration.retryBaseSeconds = 60
                let smtp = try SMTPClient(configuration: configuration)
                let finished = try await TestApp.withService { database in
                    var service = EmailDeliveryService(
                        database: database, client: smtp, pollInterval: .seconds(60), logger: TestApp.logger
                    )
                    service.claimLease = 3
                    try await service.deliverDue()
                    return Date()
                }
                let rows = try await Self.deliveries(in: setup.world)
                #expect(rows.map(\.event) == ["request.pending", "request.expired"])
                #expect(rows[0].status == "pending" && rows[0].attempts == 1)
                #expect(rows[0].nextAttemptAt > Date().addingTimeInterval(40), "the tried one waits for its retry")
                // Held for the lease it would be due 3 s after the claim, about 1 s after the pass ended (the first
                // message took 2 s); handed back it was due before the pass ended.
                #expect(rows[1].status == "pending" && rows[1].attempts == 0)
                #expect(rows[1].nextAttemptAt <= finished)
            }
            // Every replica's worker sends any tenant's due mail: these must not reach another test's server.
            try await Self.asOwner(
                setup.world,
                "UPDATE email_deliveries SET status = 'failed' WHERE tenant_id = \(setup.tenant.rawValue) AND status = 'pending'"
            )
        }
    }
}
