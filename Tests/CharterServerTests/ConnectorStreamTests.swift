import AsyncHTTPClient
import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PostgresNIO
import Testing

/// Issue 16, items 4 and 5: a connector's command stream carries its own commands only, revocation closes it,
/// and the heartbeats of two connectors of one connection hand the lease over once the active one goes silent.
@Suite("Connector streams and leases")
struct ConnectorStreamTests {
    /// A connector's event stream read as text (see ``StreamControlTests/RawStream``).
    struct RawStream {
        let response: HTTPClientResponse
        var body: HTTPClientResponse.Body.AsyncIterator
        var text = ""

        init(_ http: HTTPClient, url: String, token: String, lastEventID: String? = nil) async throws {
            var request = HTTPClientRequest(url: url + "/v1/connector/events")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            request.headers.add(name: "Charter-Connector-Protocol", value: "1")
            if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
            response = try await http.execute(request, timeout: .seconds(30))
            body = response.body.makeAsyncIterator()
        }

        mutating func read(until needle: String, limit: Duration = .seconds(30)) async throws {
            let deadline = ContinuousClock.now + limit
            while !text.contains(needle) {
                guard ContinuousClock.now < deadline else { throw PushTestError.timedOut }
                guard let chunk = try await body.next(isolation: #isolation) else { throw PushTestError.streamEnded }
                text += String(buffer: chunk)
            }
        }

        mutating func ends(limit: Duration = .seconds(5)) async -> Bool {
            let deadline = ContinuousClock.now + limit
            do {
                while let chunk = try await body.next(isolation: #isolation) {
                    text += String(buffer: chunk)
                    guard ContinuousClock.now < deadline else { return false }
                }
                return true
            } catch {
                return false
            }
        }

        /// The `id` of the `ready` event.
        var readyID: String? {
            guard let range = text.range(of: "event: ready") else { return nil }
            let before = text[..<range.lowerBound].split(separator: "\n").last { $0.hasPrefix("id: ") }
            return before.map { String($0.dropFirst(4)) }
        }
    }

    /// Runs the service on a loopback port with `config`.
    static func live(
        _ config: ServerConfiguration, _ body: @Sendable (any TestClientProtocol, HTTPClient, String) async throws -> Void
    ) async throws {
        try await TestApp.withOwner { _ in }
        var config = config
        config.port = 0
        // The test client keeps one connection and does not reconnect; waits on streams may leave it idle longer
        // than the default 10 s header timeout on a busy machine.
        config.limits.headerTimeoutSeconds = 300
        let app = try buildApplication(config, logger: TestApp.logger)
        try await app.test(.live) { client in
            let port = try #require(client.port)
            let http = HTTPClient(eventLoopGroupProvider: .singleton)
            do {
                try await body(client, http, "http://127.0.0.1:\(port)")
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    /// Appends a change-feed entry of the tenant, as a service would.
    static func append(
        _ world: TestApp.World, event: ChangeFeedEntry.Event, ids: [String]?, data: String
    ) async throws {
        let tenant = world.tenants[0]
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                let ids = ids?.compactMap { UUID(uuidString: $0) }.map(DeviceID.init)
                try await tx.changeFeed.append(tenant, event: event, devices: ids, data: data)
            }
        }
    }

    @Test("a connector's stream carries its own commands, not another connector's nor device hints; revocation closes it")
    func commandsAndRevocation() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await Self.live(TestApp.sealingConfig) { client, http, url in
            let token = try await ConnectorIdentityTests.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":2,"#)
            var mine = TestConnector()
            try await mine.enroll(client, token: token.secret)
            var other = TestConnector()
            try await other.enroll(client, token: token.secret)
            let deviceToken = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: deviceToken.secret, hostname: "PC-1")

            var stream = try await RawStream(http, url: url, token: mine.token)
            #expect(stream.response.status == .ok)
            try await stream.read(until: "event: ready")
            #expect(stream.text.contains(#""connector_id":"\#(mine.id)""#))
            let ready = try #require(stream.readyID)

            try await Self.append(world, event: .connector, ids: [other.id], data: #"{"event":"sync","data":{"run_id":"other-run"}}"#)
            try await Self.append(world, event: .bundle, ids: nil, data: #"{"reason":"test"}"#)
            try await Self.append(world, event: .connector, ids: [mine.id], data: #"{"event":"sync","data":{"run_id":"my-run"}}"#)
            try await stream.read(until: "my-run")
            #expect(stream.text.contains("event: sync"))
            #expect(!stream.text.contains("other-run"))
            #expect(!stream.text.contains("event: bundle"))

            // The long poll and a reconnect replay the same, and only that.
            let poll = try await client.call(
                .get, "/v1/connector/events?wait=0&last_event_id=\(ready)", key: mine.token,
                headers: [.accept: "application/json"]
            )
            #expect(poll.status == .ok, "\(poll.json)")
            let events = (poll.json["events"] as? [[String: any Sendable]]) ?? []
            #expect(events.map { $0["event"] as? String } == ["sync"])
            #expect((events.first?["data"] as? [String: any Sendable])?["run_id"] as? String == "my-run")
            var resumed = try await RawStream(http, url: url, token: mine.token, lastEventID: ready)
            try await resumed.read(until: "event: ready")
            #expect(resumed.text.contains("my-run"))
            #expect(!resumed.text.contains("other-run"))
            // The second stream of the connector replaced the first.
            #expect(await stream.ends(), "the first stream stayed open")

            // Devices never see connector commands.
            let devicePoll = try await client.call(
                .get, "/v1/agent/events?wait=0&last_event_id=\(ready)", key: device.token,
                headers: [.accept: "application/json"]
            )
            let deviceEvents = (devicePoll.json["events"] as? [[String: any Sendable]]) ?? []
            #expect(deviceEvents.map { $0["event"] as? String } == ["bundle"])

            let revoked = try await client.call(.post, "/v1/tenants/\(tenant)/connectors/\(mine.id)/revoke", key: key)
            #expect(revoked.status == .ok, "\(revoked.json)")
            #expect(revoked.json["status"] as? String == "revoked")
            #expect(await resumed.ends(), "the revoked connector's stream stayed open")
            // Refusals with a body close the connection, so these go through their own client.
            let beat = try await PushTests.admin(
                http, .POST, url + "/v1/connector/heartbeat", key: mine.token, body: ConnectorIdentityTests.heartbeatBody
            )
            #expect(beat.status == 401)
            let nonce = try await ConnectorIdentityTests.nonce(client)
            let signature = try mine.sign(ConnectorProtocol.tokenMessage(nonce: nonce, connectorID: mine.id))
            let renewal = try await PushTests.admin(
                http, .POST, url + "/v1/connector/token", key: "",
                body: #"{"connector_id":"\#(mine.id)","nonce":"\#(nonce)","signature":"\#(signature)"}"#
            )
            #expect(renewal.status == 401)
            let stream401 = try await PushTests.admin(http, .GET, url + "/v1/connector/events", key: mine.token)
            #expect(stream401.status == 401)
            #expect((stream401.json["type"] as? String)?.hasPrefix("/docs/problems/") == true)
            let again = try await client.call(.post, "/v1/tenants/\(tenant)/connectors/\(mine.id)/revoke", key: key)
            #expect(again.status == .ok)
            let audit = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=connector.revoked", key: key)
            #expect(audit.items.count == 1)
            #expect(try await ConnectorIdentityTests.heartbeat(client, other).status == .ok)
        }
    }

    /// Adds a `connector`-mode connection named `name` served by `connectors`, in order.
    static func connection(_ world: TestApp.World, name: String, connectors: [String]) async throws -> String {
        let tenant = world.tenants[0]
        let id = UUID()
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    "INSERT INTO directory_connections (tenant_id, id, name, mode) VALUES (\(tenant.rawValue), \(id), \(name), 'connector')"
                )
                for (position, connector) in connectors.enumerated() {
                    try await tx.query(
                        """
                        INSERT INTO directory_connection_connectors (tenant_id, connection_id, connector_id, position)
                        VALUES (\(tenant.rawValue), \(id), \(UUID(uuidString: connector)), \(position))
                        """
                    )
                }
            }
        }
        return id.uuidString.lowercased()
    }

    /// The connections of a heartbeat's answer, by id: whether active, and the lease's expiry.
    static func assignments(_ answer: Answer) -> [String: (active: Bool, expires: String?)] {
        var result: [String: (active: Bool, expires: String?)] = [:]
        for connection in (answer.json["connections"] as? [[String: any Sendable]]) ?? [] {
            guard let id = connection["connection_id"] as? String else { continue }
            result[id.lowercased()] = ((connection["active"] as? Double) == 1, connection["lease_expires_at"] as? String)
        }
        return result
    }

    @Test("the first connector to heartbeat holds the lease; the second takes over only once it has run out")
    func leaseTakeover() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        var config = TestApp.sealingConfig
        config.connectorLeaseSeconds = 3
        try await TestApp.run(config) { client in
            let token = try await ConnectorIdentityTests.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":2,"#)
            var first = TestConnector()
            try await first.enroll(client, token: token.secret)
            var second = TestConnector()
            try await second.enroll(client, token: token.secret)
            let shared = try await Self.connection(world, name: "Corp", connectors: [first.id, second.id])
            let secondOnly = try await Self.connection(world, name: "Lab", connectors: [second.id])

            let held = Self.assignments(try await ConnectorIdentityTests.heartbeat(client, first))
            #expect(held.keys.sorted() == [shared])
            #expect(held[shared]?.active == true)
            let leaseEnd = try #require(held[shared]?.expires)

            let waiting = Self.assignments(try await ConnectorIdentityTests.heartbeat(client, second))
            #expect(Set(waiting.keys) == [shared, secondOnly])
            #expect(waiting[shared]?.active == false)
            #expect(waiting[shared]?.expires == leaseEnd)
            #expect(waiting[secondOnly]?.active == true)

            // A renewal by the holder keeps it.
            #expect(Self.assignments(try await ConnectorIdentityTests.heartbeat(client, first))[shared]?.active == true)
            let read = try await client.call(.get, "/v1/tenants/\(tenant)/connectors/\(first.id)", key: key)
            let connections = (read.json["connections"] as? [[String: any Sendable]]) ?? []
            #expect(connections.map { ($0["connection_id"] as? String)?.lowercased() } == [shared])
            #expect(connections.first?["active"] as? Double == 1)

            // The holder goes silent; once its lease has run out, the other takes over.
            try await Task.sleep(for: .milliseconds(3500))
            #expect(Self.assignments(try await ConnectorIdentityTests.heartbeat(client, second))[shared]?.active == true)
            #expect(Self.assignments(try await ConnectorIdentityTests.heartbeat(client, first))[shared]?.active == false)
            let offline = try await client.call(.get, "/v1/tenants/\(tenant)/connectors/\(first.id)", key: key)
            #expect(offline.json["status"] as? String == "online")

            // Revoking the holder ends its leases at once.
            let revoked = try await client.call(.post, "/v1/tenants/\(tenant)/connectors/\(second.id)/revoke", key: key)
            #expect(revoked.status == .ok)
            #expect(Self.assignments(try await ConnectorIdentityTests.heartbeat(client, first))[shared]?.active == true)
        }
    }
}

extension ConnectorStreamTests {
    /// Enrolls a new connector through `url` with `secret`: its id and token.
    static func enroll(_ http: HTTPClient, url: String, secret: String) async throws -> (id: String, token: String) {
        var request = HTTPClientRequest(url: url + "/v1/connector/enroll")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: TestConnector().enrollBody(token: secret)))
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(response.status == .created)
        let enrolled = try #require((try JSONSerialization.jsonObject(with: data)) as? [String: Any])
        return (try #require(enrolled["connector_id"] as? String), try #require(enrolled["connector_token"] as? String))
    }

    @Test("revoking a connector through replica 1 closes its stream on replica 2; SIGTERM drains the others")
    func revocationReachesEveryReplica() async throws {
        try await StreamControlTests.withReplicas(hostname: "CONNECTOR-1") { http, one, two, _, tenant, key in
            let created = try await PushTests.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/enrollment-tokens", key: key,
                body: #"{"name":"site","purpose":"connector","max_uses":2}"#
            )
            let secret = try #require(created.json["secret"] as? String)
            let revokedOne = try await Self.enroll(http, url: one.baseURL, secret: secret)
            let kept = try await Self.enroll(http, url: one.baseURL, secret: secret)

            var stream = try await RawStream(http, url: two.baseURL, token: revokedOne.token)
            try await stream.read(until: "event: ready")
            var other = try await RawStream(http, url: two.baseURL, token: kept.token)
            try await other.read(until: "event: ready")
            let revoked = try await PushTests.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/connectors/\(revokedOne.id)/revoke", key: key
            )
            #expect(revoked.status == 200)
            #expect(await stream.ends(), "the stream on replica 2 stayed open")

            // A replica shutting down tells the connector's stream when to come back, then closes it.
            #expect(try await two.terminate() == 0)
            #expect(await other.ends(limit: .seconds(10)), "the stream stayed open through the drain")
            // The opening's `retry:`, then the drain's.
            #expect(other.text.components(separatedBy: "retry: ").count - 1 == 2)
            #expect(!other.text.contains("event: bundle"))
        }
    }
}
