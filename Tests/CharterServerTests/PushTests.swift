import AsyncHTTPClient
import CharterAgent
import CharterBundle
import CharterCore
import CharterStore
import Foundation
import NIOCore
import NIOHTTP1
import PostgresNIO
import NIOFoundationCompat
import Testing

/// Real-time hints across replicas: two `charter serve` processes on one database, the reference agent's
/// client, and admin writes over HTTP.
@Suite("Push across replicas", .serialized)
struct PushTests {
    /// An admin API call over HTTP; the JSON answer.
    static func admin(
        _ http: HTTPClient, _ method: HTTPMethod, _ url: String, key: String, body: String? = nil
    ) async throws -> (status: Int, json: [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = Data(buffer: try await response.body.collect(upTo: 1 << 20))
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    /// The next event of the stream that satisfies `predicate` (a hang is bounded at 30 s).
    static func next(
        _ iterator: inout ServerSentEventStream.AsyncIterator, where predicate: (ServerSentEvent) -> Bool
    ) async throws -> ServerSentEvent {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            guard let event = try await iterator.next(isolation: #isolation) else { throw PushTestError.streamEnded }
            if predicate(event) { return event }
        }
        throw PushTestError.timedOut
    }

    @Test("a settings change through replica 1 reaches a device streaming from replica 2; Last-Event-ID replays; SIGTERM drains")
    func acrossReplicas() async throws {
        try await StreamControlTests.withReplicas(hostname: "PUSH-1") { http, one, two, enrollment, tenant, key in
            var device = AgentDevice(enrollment: enrollment, client: AgentClient(httpClient: http, baseURL: two.baseURL))
            #expect(try await device.refreshBundle() != .notModified)
            #expect(device.heldVersion == 1)

            let agent = AgentClient(httpClient: http, baseURL: two.baseURL).authenticated(with: enrollment)
            var stream = try await agent.events(lastEventID: nil).makeAsyncIterator()
            let ready = try await Self.next(&stream) { $0.type == "ready" }
            let readyID = try #require(ready.position)

            let change = #"{"schema_version":1,"run_as_admin":{"mode":"reason_required"}}"#
            let put = try await Self.admin(http, .PUT, one.baseURL + "/v1/tenants/\(tenant)/settings", key: key, body: change)
            #expect(put.status == 200)
            let hint = try await Self.next(&stream) { $0.type == "bundle" }
            #expect(try #require(hint.position) > readyID)
            // The replica measured its write of the hint.
            let metrics = try await http.execute(HTTPClientRequest(url: two.baseURL + "/metrics"), timeout: .seconds(10))
            let exposition = String(buffer: try await metrics.body.collect(upTo: 1 << 20))
            let line = exposition.split(separator: "\n").first { $0.hasPrefix("charter_hint_delivery_seconds_count") }
            let written = line.flatMap { $0.split(separator: " ").last }.flatMap { Double(String($0)) } ?? 0
            #expect(written >= 1, "\(line ?? "no charter_hint_delivery_seconds in /metrics")")
            guard case .accepted(let second) = try await device.refreshBundle() else {
                Issue.record("the hinted bundle was not newer")
                return
            }
            #expect(second.claims.version == 2)

            // A change while the device is away is replayed once it reconnects with its last id.
            let away = #"{"schema_version":1,"run_as_admin":{"mode":"audit_only"}}"#
            #expect(try await Self.admin(http, .PUT, one.baseURL + "/v1/tenants/\(tenant)/settings", key: key, body: away).status == 200)
            var resumed = try await agent.events(lastEventID: hint.lastEventID).makeAsyncIterator()
            let replayed = try await Self.next(&resumed) { _ in true }
            #expect(replayed.type == "bundle")
            #expect(try #require(replayed.position) > #require(hint.position))

            // Long polling sees the same event.
            let poll = try await agent.pollEvents(lastEventID: hint.lastEventID, wait: 0)
            #expect(poll.events.map(\.event) == ["bundle"])

            // SIGTERM: the streams are told when to come back and closed; the process exits 0.
            #expect(try await two.terminate() == 0)
            var sawRetry = false
            do {
                while try await resumed.next(isolation: #isolation) != nil {}
                sawRetry = true
            } catch {
                sawRetry = false
            }
            #expect(sawRetry, "the stream ended cleanly during the drain")
        }
    }
}

extension PushTests {
    @Test("a bundle hint is followed on the stream by the device's own current bundle, which verifies as a fetched one")
    func pushedBundles() async throws {
        try await StreamControlTests.withReplicas(hostname: "PUSH-2") { http, one, two, enrollment, tenant, key in
            let created = try await Self.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: #"{"name":"push"}"#
            )
            let token = try #require(created.json["secret"] as? String)
            let client = AgentClient(httpClient: http, baseURL: two.baseURL)
            let other = try await client.enroll(token: token, hostname: "PUSH-3")
            var devices = [AgentDevice(enrollment: enrollment, client: client), AgentDevice(enrollment: other, client: client)]
            var streams: [ServerSentEventStream.AsyncIterator] = []
            for index in devices.indices {
                #expect(try await devices[index].refreshBundle() != .notModified)
                var stream = try await devices[index].client.events(lastEventID: nil).makeAsyncIterator()
                let ready = try await Self.next(&stream) { $0.type == "ready" }
                guard case .ready(_, _, let pushSeconds) = ready.agentEvent else {
                    Issue.record("ready did not decode: \(ready.data)")
                    return
                }
                #expect(pushSeconds == 10)
                streams.append(stream)
            }

            let change = #"{"schema_version":1,"run_as_admin":{"mode":"reason_required"}}"#
            #expect(try await Self.admin(http, .PUT, one.baseURL + "/v1/tenants/\(tenant)/settings", key: key, body: change).status == 200)
            var pushed: [PushedBundle] = []
            for index in devices.indices {
                let hint = try await Self.next(&streams[index]) { $0.type == "bundle" }
                let event = try await Self.next(&streams[index]) { $0.type == "current_bundle" }
                // No id of its own: the stream's last id stays the hint's.
                #expect(event.lastEventID == hint.lastEventID)
                guard case .currentBundle(let bundle) = event.agentEvent else {
                    Issue.record("current_bundle did not decode: \(event.data.prefix(200))")
                    return
                }
                #expect(bundle.position >= Int64(try #require(hint.position)))
                guard case .accepted(let verified) = try devices[index].accept(bundle) else {
                    Issue.record("the pushed bundle was not newer")
                    return
                }
                // Sealed to this device and naming it; the new policy in it.
                #expect(verified.claims.deviceID == devices[index].enrollment.deviceID)
                #expect(verified.claims.version == 2 && bundle.version == 2)
                #expect(verified.claims.policy.computerSettings?["run_as_admin"]?["mode"]?.stringValue == "reason_required")
                // The fetch path holds the same bundle.
                #expect(try await devices[index].refreshBundle() == .notModified)
                pushed.append(bundle)
            }
            #expect(Set(pushed.map(\.compact)).count == 2)

            // A pushed bundle is checked as a fetched one: another device's bundle is refused and changes nothing.
            var stolen = pushed[1]
            stolen.etag = "\"stolen\""
            #expect(throws: BundleError.self) { try devices[0].accept(stolen) }
            #expect(devices[0].heldVersion == 2 && devices[0].etag == pushed[0].etag)
        }
    }
}

extension PushTests {
    @Test("a bundle hint replayed on a reconnect is followed by the device's current bundle, as a live one is")
    func pushedAfterReplay() async throws {
        try await StreamControlTests.withReplicas(hostname: "PUSH-4") { http, one, two, enrollment, tenant, key in
            var device = AgentDevice(enrollment: enrollment, client: AgentClient(httpClient: http, baseURL: two.baseURL))
            #expect(try await device.refreshBundle() != .notModified)
            // Where the device's stream would resume from; no stream is open while the policy changes.
            let position = try await device.client.pollEvents(lastEventID: nil, wait: 0).lastEventID
            let change = #"{"schema_version":1,"run_as_admin":{"mode":"reason_required"}}"#
            #expect(try await Self.admin(http, .PUT, one.baseURL + "/v1/tenants/\(tenant)/settings", key: key, body: change).status == 200)

            // Bounded from outside: a stream that only sends heartbeats never ends a wait for its next event.
            let client = device.client
            let answer = try await withThrowingTaskGroup(of: (hint: UInt64, bundle: PushedBundle)?.self) { group in
                group.addTask {
                    var stream = try await client.events(lastEventID: position).makeAsyncIterator()
                    let replayed = try await Self.next(&stream) { $0.type == "bundle" }
                    let event = try await Self.next(&stream) { $0.type == "current_bundle" }
                    guard case .currentBundle(let bundle) = event.agentEvent else { return nil }
                    return (try #require(replayed.position), bundle)
                }
                group.addTask {
                    try await Task.sleep(for: .seconds(30))
                    return nil
                }
                defer { group.cancelAll() }
                return try await group.next() ?? nil
            }
            let (hint, bundle) = try #require(answer, "no current_bundle within 30 s of the replayed hint")
            #expect(bundle.position >= Int64(hint))
            guard case .accepted(let verified) = try device.accept(bundle) else {
                Issue.record("the pushed bundle was not newer")
                return
            }
            #expect(verified.claims.policy.computerSettings?["run_as_admin"]?["mode"]?.stringValue == "reason_required")
        }
    }
}

enum PushTestError: Error {
    case streamEnded
    case timedOut
}

extension PushTests {
    @Test("a replica whose listening connection is cut reconnects and still delivers the change made meanwhile")
    func listenerReconnects() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            // Its connections carry a name of their own, so only they are cut: other tests share the server.
            let name = "charter-cut-\(UUID().uuidString.prefix(8))"
            let url = TestDatabase.appURL
            let replica = try await ServeProcess.start(
                environment: ["CHARTER_DATABASE_URL": url + (url.contains("?") ? "&" : "?") + "application_name=\(name)"],
                http: http
            )
            let created = try await Self.admin(
                http, .POST, replica.baseURL + "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: #"{"name":"cut"}"#
            )
            let token = try #require(created.json["secret"] as? String)
            let agent = AgentClient(httpClient: http, baseURL: replica.baseURL)
            let enrollment = try await agent.enroll(token: token, hostname: "CUT-1")
            var stream = try await agent.authenticated(with: enrollment).events(lastEventID: nil).makeAsyncIterator()
            _ = try await Self.next(&stream) { $0.type == "ready" }

            // Cut the replica's LISTEN connection, then change the policy at once. The hub reads the feed on that
            // connection, so its last statement is the LISTEN or a feed read (a pooled connection whose last
            // statement was a poll's feed read is cut too, which the pool survives).
            let cut = try await TestApp.withOwner { database in
                try await database.withoutTenant(logger: TestApp.logger) { tx in
                    let rows = try await tx.query(
                        """
                        SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                        WHERE application_name = \(name)
                          AND (query ILIKE 'LISTEN%' OR query ILIKE '%charter_private.change_feed_%')
                        """
                    )
                    var count = 0
                    for try await terminated in rows.decode(Int.self) { count = terminated }
                    return count
                }
            }
            #expect(cut >= 1)
            let change = #"{"schema_version":1,"run_as_admin":{"mode":"audit_only"}}"#
            #expect(try await Self.admin(http, .PUT, replica.baseURL + "/v1/tenants/\(tenant)/settings", key: key, body: change).status == 200)
            let hint = try await Self.next(&stream) { $0.type == "bundle" }
            #expect(hint.position != nil)
            #expect(try await replica.terminate() == 0)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }
}
