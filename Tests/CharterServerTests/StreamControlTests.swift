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
    /// An event stream read as text. AsyncHTTPClient's deadline bounds only the wait for the answer's head; the
    /// reads below give up once `limit` has passed at the next chunk, which the 15 s heartbeats guarantee.
    struct RawStream {
        let response: HTTPClientResponse
        var body: HTTPClientResponse.Body.AsyncIterator
        var text = ""

        init(_ http: HTTPClient, url: String, token: String) async throws {
            var request = HTTPClientRequest(url: url + "/v1/agent/events")
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Accept", value: "text/event-stream")
            response = try await http.execute(request, timeout: .seconds(30))
            body = response.body.makeAsyncIterator()
        }

        /// Reads until the text contains `needle` `count` times.
        mutating func read(until needle: String, count: Int = 1, limit: Duration = .seconds(30)) async throws {
            let deadline = ContinuousClock.now + limit
            while text.components(separatedBy: needle).count - 1 < count {
                guard ContinuousClock.now < deadline else { throw PushTestError.timedOut }
                guard let chunk = try await body.next(isolation: #isolation) else { throw PushTestError.streamEnded }
                text += String(buffer: chunk)
            }
        }

        /// Whether the service ends the stream within about `limit` (`false` when reading fails).
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
    }

    /// Starts two replicas, enrolls one device (`hostname`) through the first, runs `body`, and stops both
    /// (each must exit 0, also when `body` stopped it already).
    static func withReplicas(
        hostname: String = "STREAM-1",
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
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: #"{"name":"replicas"}"#
            )
            let token = try #require(created.json["secret"] as? String)
            let enrollment = try await AgentClient(httpClient: http, baseURL: one.baseURL).enroll(token: token, hostname: hostname)
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
            var stream = try await RawStream(http, url: two.baseURL, token: enrollment.deviceToken)
            try await stream.read(until: "event: ready")
            let revoked = try await PushTests.admin(http, .DELETE, one.baseURL + "/v1/tenants/\(tenant)/devices/\(enrollment.deviceID)", key: key)
            #expect(revoked.status == 204)
            #expect(await stream.ends(), "the stream on replica 2 stayed open")
            let agent = AgentClient(httpClient: http, baseURL: two.baseURL).authenticated(with: enrollment)
            await #expect(throws: AgentError.self) { _ = try await agent.events(lastEventID: nil) }
        }
    }

    @Test("a second event stream of a device replaces the first")
    func oneStreamPerDevice() async throws {
        try await Self.withReplicas { http, one, two, enrollment, tenant, key in
            var first = try await RawStream(http, url: two.baseURL, token: enrollment.deviceToken)
            try await first.read(until: "event: ready")
            var second = try await RawStream(http, url: two.baseURL, token: enrollment.deviceToken)
            try await second.read(until: "event: ready")
            #expect(await first.ends(), "the first stream stayed open")
            // Long polls are not streams: one beside the stream leaves it open, so it still hears the next hint.
            let agent = AgentClient(httpClient: http, baseURL: two.baseURL).authenticated(with: enrollment)
            let poll = try await agent.pollEvents(lastEventID: nil, wait: 0)
            #expect(poll.events.isEmpty)
            let change = #"{"schema_version":1,"run_as_admin":{"mode":"reason_required"}}"#
            #expect(try await PushTests.admin(http, .PUT, one.baseURL + "/v1/tenants/\(tenant)/settings", key: key, body: change).status == 200)
            try await second.read(until: "event: bundle")
        }
    }

    @Test("a signing key that takes over is hinted to connected devices, not only its announcement")
    func takeoverHint() async throws {
        try await Self.withReplicas { http, one, two, enrollment, tenant, key in
            var stream = try await RawStream(http, url: two.baseURL, token: enrollment.deviceToken)
            try await stream.read(until: "event: ready")
            let rotated = try await PushTests.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/signing-keys/rotate", key: key, body: #"{"announce_seconds":2}"#
            )
            #expect(rotated.status == 201, "\(rotated.json)")
            // The announcement's hint, then the takeover's, each a `bundle` event of its own.
            try await stream.read(until: #"data: {"reason":"signing_keys"}"#, count: 2)
        }
    }

    @Test("the reference agent re-enrolls with proof, waits for approval without it, and renews an expired token by itself")
    func referenceAgent() async throws {
        try await Self.withReplicas { http, one, two, enrollment, tenant, key in
            let client = AgentClient(httpClient: http, baseURL: one.baseURL)
            let created = try await PushTests.admin(
                http, .POST, one.baseURL + "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: #"{"name":"again"}"#
            )
            let token = try #require(created.json["secret"] as? String)
            let newcomer = try await client.enroll(token: token, hostname: "STREAM-1")
            #expect(newcomer.isPendingApproval)
            #expect(newcomer.deviceID != enrollment.deviceID)

            let proven = try await client.enroll(token: token, hostname: "STREAM-1", provingWith: enrollment)
            #expect(proven.isReenrollment)
            #expect(proven.deviceID == enrollment.deviceID)
            #expect(proven.tokenExpiresAt != nil)

            // Revoked and restored, the device's token is expired: the agent renews it by signature and fetches.
            let devices = one.baseURL + "/v1/tenants/\(tenant)/devices/\(proven.deviceID)"
            #expect(try await PushTests.admin(http, .DELETE, devices, key: key).status == 204)
            #expect(try await PushTests.admin(http, .POST, devices + "/restore", key: key).status == 200)
            var device = AgentDevice(enrollment: proven, client: AgentClient(httpClient: http, baseURL: two.baseURL))
            #expect(try await device.refreshBundle() != .notModified)
            #expect(device.enrollment.deviceToken != proven.deviceToken)
        }
    }
}
