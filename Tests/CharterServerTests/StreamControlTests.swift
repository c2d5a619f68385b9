import AsyncHTTPClient
import CharterAgent
import CharterBundle
import CharterCore
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Who may hold an event stream, across two `charter serve` processes on one database: a revoked device's
/// streams close on every replica, a device has one stream per replica, and a signing key that takes over is
/// hinted.
@Suite("Stream control across replicas", .serialized)
struct StreamControlTests {
    /// Whether the stream ends (the service closed it) before `timeout`, reading past any events.
    static func ends(_ stream: ServerSentEventStream, within timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    for try await _ in stream {}
                    return true
                } catch {
                    return !Task.isCancelled
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Starts two replicas, enrolls one device through the first, and runs `body`.
    static func withReplicas(
        _ body: (HTTPClient, ServeProcess, ServeProcess, Enrollment, TenantID, String) async throws -> Void
    ) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 16
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let one = try await ServeProcess.start(http: http)
            let two = try await ServeProcess.start(http: http)
            let created = try await PushTests.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: #"{"name":"streams"}"#
            )
            let token = try #require(created.json["secret"] as? String)
            let enrollment = try await AgentClient(httpClient: http, baseURL: one.baseURL).enroll(token: token, hostname: "STREAM-1")
            try await body(http, one, two, enrollment, tenant, key)
            #expect(try await one.terminate() == 0)
            #expect(try await two.terminate() == 0)
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    @Test("revoking a device through replica 1 closes its stream on replica 2; it cannot reconnect")
    func revocationReachesEveryReplica() async throws {
        try await Self.withReplicas { http, one, two, enrollment, tenant, key in
            let agent = AgentClient(httpClient: http, baseURL: two.baseURL).authenticated(with: enrollment)
            let stream = try await agent.events(lastEventID: nil)
            var iterator = stream.makeAsyncIterator()
            _ = try await PushTests.next(&iterator) { $0.type == "ready" }
            let revoked = try await PushTests.admin(http, .DELETE, one.baseURL + "/v1/tenants/\(tenant)/devices/\(enrollment.deviceID)", key: key)
            #expect(revoked.status == 204)
            #expect(await Self.ends(stream, within: .seconds(10)), "the stream on replica 2 stayed open")
            await #expect(throws: AgentError.self) { _ = try await agent.events(lastEventID: nil) }
        }
    }

    @Test("a second event stream of a device replaces the first")
    func oneStreamPerDevice() async throws {
        try await Self.withReplicas { http, _, two, enrollment, _, _ in
            let agent = AgentClient(httpClient: http, baseURL: two.baseURL).authenticated(with: enrollment)
            let first = try await agent.events(lastEventID: nil)
            var firstEvents = first.makeAsyncIterator()
            _ = try await PushTests.next(&firstEvents) { $0.type == "ready" }
            let second = try await agent.events(lastEventID: nil)
            var secondEvents = second.makeAsyncIterator()
            _ = try await PushTests.next(&secondEvents) { $0.type == "ready" }
            #expect(await Self.ends(first, within: .seconds(10)), "the first stream stayed open")
            // Long polls are not streams: one beside the stream leaves it open.
            let poll = try await agent.pollEvents(lastEventID: nil, wait: 0)
            #expect(poll.events.isEmpty)
            #expect(await !Self.ends(second, within: .milliseconds(500)))
        }
    }

    @Test("a signing key that takes over is hinted to connected devices, not only its announcement")
    func takeoverHint() async throws {
        try await Self.withReplicas { http, one, two, enrollment, tenant, key in
            let agent = AgentClient(httpClient: http, baseURL: two.baseURL).authenticated(with: enrollment)
            var events = try await agent.events(lastEventID: nil).makeAsyncIterator()
            _ = try await PushTests.next(&events) { $0.type == "ready" }
            let rotated = try await PushTests.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/signing-keys/rotate", key: key, body: #"{"announce_seconds":2}"#
            )
            #expect(rotated.status == 201, "\(rotated.json)")
            let isKeyHint: (ServerSentEvent) -> Bool = { $0.type == "bundle" && $0.data.contains("signing_keys") }
            let announced = try await PushTests.next(&events, where: isKeyHint)
            let tookOver = try await PushTests.next(&events, where: isKeyHint)
            #expect(try #require(tookOver.position) > #require(announced.position))
        }
    }
}
