import CharterCore
import CharterServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import Synchronization
import Testing

/// Rate limits per credential, tenant and enrollment token: the bucket table and the 429 answers.
@Suite("Rate limits")
struct RateLimitTests {
    /// A clock the test moves by hand.
    final class ManualClock: Sendable {
        let seconds = Mutex(0.0)
        func advance(by delta: Double) { seconds.withLock { $0 += delta } }
        var now: @Sendable () -> Double { { self.seconds.withLock { $0 } } }
    }

    @Test("buckets are per key and scope; an unlimited scope is never refused")
    func perKey() throws {
        let clock = ManualClock()
        let limiter = RateLimiter(
            rates: [.credential: .init(perSecond: 1, burst: 2), .tenant: .init(perSecond: 1, burst: 3)],
            maximumBuckets: 1000, now: clock.now
        )
        let tenant = TenantID.random()
        let (one, two) = (DeviceID.random(), DeviceID.random())
        try limiter.admit(.device(one), .tenant(tenant))
        try limiter.admit(.device(one), .tenant(tenant))
        #expect(throws: RateLimiter.Limited(scope: .credential, retryAfterSeconds: 1)) {
            try limiter.admit(.device(one), .tenant(tenant))
        }
        // The second device has its own bucket, but shares the tenant's, which has one token left.
        try limiter.admit(.device(two), .tenant(tenant))
        #expect(throws: RateLimiter.Limited(scope: .tenant, retryAfterSeconds: 1)) {
            try limiter.admit(.device(two), .tenant(tenant))
        }
        for _ in 0..<100 { try limiter.admit(.enrollmentToken(.random())) }
        clock.advance(by: 1)
        try limiter.admit(.device(one), .tenant(tenant))
    }

    @Test("the table stays bounded however many credentials show up")
    func bounded() throws {
        let clock = ManualClock()
        let limiter = RateLimiter(rates: [.credential: .init(perSecond: 1, burst: 5)], maximumBuckets: 1000, now: clock.now)
        for round in 0..<50_000 {
            // Every credential spends a token, so its bucket is not full and cannot simply be dropped as idle.
            try limiter.admit(.device(.random()))
            if round.isMultiple(of: 1000) { clock.advance(by: 0.01) }
        }
        #expect(limiter.bucketCount <= 1000)
        // Buckets that refilled are dropped first.
        clock.advance(by: 10)
        for _ in 0..<1000 { try limiter.admit(.device(.random())) }
        #expect(limiter.bucketCount <= 1000)
    }

    @Test("an API key over its rate gets 429 with Retry-After; another tenant's key is served")
    func apiKey() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        var config = TestApp.config
        config.limits.credentialRate = (perSecond: 1, burst: 2)
        // The clock stands still: however slowly the machine runs the calls, no bucket refills between them.
        config.limits.rateLimitClock = ManualClock().now
        try await TestApp.run(config) { client in
            let path = "/v1/tenants/\(world.tenants[0])"
            #expect(try await client.call(.get, path, key: world.tenantKeys[0]).status == .ok)
            #expect(try await client.call(.get, path, key: world.tenantKeys[0]).status == .ok)
            let refused = try await client.call(.get, path, key: world.tenantKeys[0])
            expectProblem(refused, 429)
            #expect(refused.json["code"] as? String == "too-many-requests")
            #expect(refused.headers[.retryAfter] == "1")
            #expect(try await client.call(.get, "/v1/tenants/\(world.tenants[1])", key: world.tenantKeys[1]).status == .ok)
        }
    }

    @Test("a device over its rate gets 429 on the agent API; enrollments are limited per enrollment token")
    func deviceAndEnrollment() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        var config = TestApp.sealingConfig
        config.limits.credentialRate = (perSecond: 1, burst: 2)
        config.limits.enrollmentRate = (perSecond: 1, burst: 1)
        // The clock stands still: however slowly the machine runs the calls, no bucket refills between them.
        config.limits.rateLimitClock = ManualClock().now
        try await TestApp.run(config) { client in
            let token = try await EndpointTests.createToken(client, tenant: world.tenants[0], key: world.tenantKeys[0])
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "RATE-1")
            let second = TestDevice()
            let refusedEnrollment = try await client.call(
                .post, "/v1/agent/enroll", body: second.enrollBody(token: token.secret, hostname: "RATE-2")
            )
            expectProblem(refusedEnrollment, 429)
            #expect(refusedEnrollment.headers[.retryAfter] != nil)

            #expect(try await device.fetch(client).status == 200)
            #expect(try await device.fetch(client).status == 200)
            #expect(try await device.fetch(client).status == 429)
        }
    }
}
