import CharterBundle
import CharterCore
@testable import CharterServer
import CharterServices
import CharterStore
import Foundation
import PostgresNIO
import Testing

/// Webhook delivery against hostile and forbidden receivers (issue 14, items 2, 5 and 7): the outbound policy,
/// no redirects, one deadline, a response-size cap, and failure categories instead of the receiver's text.
@Suite("Webhook delivery to untrusted destinations")
struct WebhookOutboundTests {
    /// One delivery as stored.
    struct Stored: Sendable {
        var url: String
        var status: String
        var attempts: Int
        var code: Int?
        var error: String?
    }

    /// Creates a webhook per URL in a tenant of its own, queues one event for each, runs one delivery pass of
    /// that tenant with `config`'s outbound policy, and returns what was recorded, in the order of `urls`.
    ///
    /// The deliveries are queued a day ahead and claimed as of then, so the delivery services of other suites'
    /// applications (which claim what is due now) never take them.
    static func deliver(
        _ urls: [String], config: ServerConfiguration = TestApp.config, timeout: Duration = .seconds(5)
    ) async throws -> (stored: [Stored], elapsed: Duration) {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let sealer = try TestDomain.sealer()
        let due = Date().addingTimeInterval(86_400)
        return try await TestApp.withService { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                for url in urls {
                    let id = UUID()
                    let secret = try sealer.seal(Data(repeating: 7, count: 32), context: Webhooks.sealingContext(id))
                    try await tx.webhooks.create(
                        Webhook(
                            id: id, url: url, events: [Webhooks.created], secretSealed: secret.description,
                            isEnabled: true, createdAt: due
                        ),
                        in: tenant, by: nil
                    )
                }
                try await tx.webhooks.enqueue(tenant, event: Webhooks.created, payload: #"{"test":true}"#, at: due)
            }
            let service = WebhookDeliveryService(
                database: database, sealer: sealer, outbound: outboundGuard(config), pollInterval: .seconds(1),
                retryBase: 600, timeout: timeout, logger: TestApp.logger
            )
            let clock = ContinuousClock()
            let started = clock.now
            try await service.deliverDue(of: tenant, msp: world.msp, at: due)
            let elapsed = clock.now - started
            let stored = try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                let rows = try await tx.query(
                    """
                    SELECT w.url, d.status, d.attempts, d.last_status_code, d.last_error
                    FROM webhook_deliveries d JOIN webhooks w ON w.tenant_id = d.tenant_id AND w.id = d.webhook_id
                    """
                )
                var stored: [Stored] = []
                for try await row in rows.decode((String, String, Int, Int?, String?).self) {
                    stored.append(Stored(url: row.0, status: row.1, attempts: row.2, code: row.3, error: row.4))
                }
                return stored
            }
            return (urls.compactMap { url in stored.first { $0.url == url } }, elapsed)
        }
    }

    @Test("the default configuration refuses loopback, private and link-local receivers, by address or by name")
    func defaultRefuses() async throws {
        let receiver = try await HostilePeer.start("http-ok")
        let port = receiver.port
        let urls = [
            "http://127.0.0.1:\(port)/hook", "http://[::1]:\(port)/hook", "http://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/", "http://localhost:\(port)/hook",
            "http://2130706433:\(port)/hook", "http://[::ffff:127.0.0.1]:\(port)/hook", "http://0.0.0.0:\(port)/hook",
        ]
        let (stored, _) = try await Self.deliver(urls, config: ServerConfiguration(databaseURL: TestApp.config.databaseURL))
        #expect(stored.count == urls.count)
        for delivery in stored {
            #expect(delivery.status == "pending" && delivery.attempts == 1 && delivery.code == nil, "\(delivery)")
            #expect(delivery.error?.hasPrefix("refused by the outbound policy (") == true, "\(delivery)")
        }
        #expect(try receiver.paths().isEmpty)
    }

    @Test("with loopback allowed, the same receiver gets the delivery")
    func allowedLoopbackDelivers() async throws {
        let receiver = try await HostilePeer.start("http-ok")
        let (stored, _) = try await Self.deliver(["http://127.0.0.1:\(receiver.port)/hook", "http://127.0.0.1:\(receiver.port)/other"])
        #expect(stored.map(\.status) == ["delivered", "delivered"])
        #expect(stored.map(\.code) == [204, 204])
        #expect(try receiver.paths().sorted() == ["/hook", "/other"])
    }

    @Test("a redirect, even to an allowed loopback address, is a failed delivery and is not followed")
    func redirectNotFollowed() async throws {
        let receiver = try await HostilePeer.start("http-redirect")
        let (stored, _) = try await Self.deliver(["http://127.0.0.1:\(receiver.port)/hook"])
        let delivery = try #require(stored.first)
        #expect(delivery.status == "pending" && delivery.code == 302)
        #expect(delivery.error == "HTTP status 302 (redirects are not followed)")
        #expect(try receiver.paths() == ["/hook"])
    }

    @Test(
        "a receiver that stalls after the headers or trickles its body forever times out within the deadline",
        arguments: ["http-stall", "http-trickle"]
    )
    func slowReceiverTimesOut(mode: String) async throws {
        let receiver = try await HostilePeer.start(mode)
        let (stored, elapsed) = try await Self.deliver(["http://127.0.0.1:\(receiver.port)/hook"], timeout: .seconds(2))
        let delivery = try #require(stored.first)
        #expect(delivery.status == "pending" && delivery.attempts == 1, "\(delivery)")
        #expect(delivery.error == "timed out (deadline 2 s)", "\(delivery)")
        // Without the deadline the pass would never end; the bound leaves room for a loaded machine.
        #expect(elapsed < .seconds(30))
    }

    @Test("a receiver that floods its answer is read only up to the cap; its status decides")
    func floodIsCapped() async throws {
        let receiver = try await HostilePeer.start("http-flood")
        let (stored, _) = try await Self.deliver(["http://127.0.0.1:\(receiver.port)/hook"], timeout: .seconds(10))
        let delivery = try #require(stored.first)
        #expect(delivery.status == "delivered" && delivery.code == 200, "\(delivery)")
    }

    @Test("the tenant reads a failure category, never the receiver's answer")
    func categoriesNotBanners() async throws {
        let receiver = try await HostilePeer.start("http-banner")
        let (stored, _) = try await Self.deliver([
            "http://127.0.0.1:\(receiver.port)/hook", "http://127.0.0.1:1/hook", "http://no-such-host.invalid/hook",
        ])
        #expect(stored.map(\.error) == ["HTTP status 500", "connection refused", "DNS: the host name does not resolve"])
        #expect(stored.first?.code == 500)
        #expect(!stored.contains { $0.error?.contains("SECRET") == true || $0.error?.contains("acme") == true })
    }
}
