import CharterCore
@testable import CharterServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Draining")
struct DrainTests {
    @Test("a draining replica fails readiness and refuses new event streams with 503 and a Retry-After of 1–5 s")
    func drainingRefusesStreams() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.withOwner { _ in }
        let service = try buildService(TestApp.sealingConfig, logger: TestApp.logger)
        try await service.application.test(.router) { client in
            let token = try await EndpointTests.createToken(client, tenant: world.tenants[0], key: world.tenantKeys[0])
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "ws-drain")
            service.drain.state.begin()

            let ready = try await client.execute(uri: "/readyz", method: .get) { ($0.status, String(buffer: $0.body)) }
            #expect(ready.0 == .serviceUnavailable)
            #expect(ready.1 == "draining\n")
            let stream = try await client.call(.get, "/v1/agent/events", key: device.token)
            expectProblem(stream, 503)
            let retry = try #require(stream.headers[.retryAfter].flatMap { Int($0) })
            #expect((1...5).contains(retry))
            // Fetching a bundle still works while the replica drains.
            #expect(try await device.fetch(client).status == 200)
        }
    }
}
