import CharterCore
import CharterServices
import CharterStore
import CharterTestSupport
import Foundation
import Synchronization
import Testing

/// The change feed's fan-out against the real PostgreSQL: tenants append under locks of their own, and the hub
/// still hands out every entry once, in each tenant's order.
@Suite("Event hub")
struct EventHubTests {
    /// A one-shot signal between tasks.
    final class Gate: Sendable {
        private let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation

        init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self) }

        func open() { continuation.finish() }

        func wait() async { for await _ in stream {} }
    }

    /// The ids of the hints a subscription received, collected as they arrive (a stream has one reader).
    final class Heard: Sendable {
        private let ids = Mutex<[Int64]>([])

        init(_ subscription: EventHub.Subscription) {
            Task { [self] in
                for await message in subscription.messages {
                    if case .event(let id, _, _) = message { ids.withLock { $0.append(id) } }
                }
            }
        }

        /// The ids received so far, once there are at least `count` or `timeout` has passed.
        func ids(count: Int, within timeout: Duration) async -> [Int64] {
            let deadline = ContinuousClock.now + timeout
            while ids.withLock({ $0.count }) < count, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            return ids.withLock { $0 }
        }
    }

    /// Runs `body` with a running hub whose poll is slow: what arrives, arrives on a notification's read.
    static func withHub(
        _ database: Database, _ body: (EventHub) async throws -> Void
    ) async throws {
        let hub = EventHub(database: database, logger: TestDatabase.logger, pollInterval: .seconds(60))
        let running = Task { try await hub.run() }
        do {
            try await body(hub)
        } catch {
            running.cancel()
            _ = await running.result
            throw error
        }
        running.cancel()
        _ = await running.result
    }

    static func append(_ tenant: TenantID, msp: MSPID, in database: Database) async throws -> Int64 {
        try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
            try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"test"}"#)
        }
    }

    @Test("a tenant's append does not wait for another's open one; each is handed out once, in its tenant's order")
    func tenantsAppendApart() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        try await TestDatabase.withService { database in
            try await Self.withHub(database) { hub in
                let first = Heard(try await hub.subscribe(device: DeviceID(UUID()), tenant: tenants[0]))
                let second = Heard(try await hub.subscribe(device: DeviceID(UUID()), tenant: tenants[1]))

                // The first tenant appends and keeps its transaction open.
                let appended = Gate()
                let commit = Gate()
                let held = Task {
                    try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                        let sequence = try await tx.changeFeed.append(
                            tenants[0], event: .bundle, devices: nil, data: #"{"reason":"held"}"#
                        )
                        appended.open()
                        await commit.wait()
                        return sequence
                    }
                }
                await appended.wait()

                // The second tenant's append commits meanwhile, and its hint arrives while the first is still open
                // (under one lock for every tenant it would wait for the first's commit, and arrive only after it).
                let appending = Task { try await Self.append(tenants[1], msp: msp, in: database) }
                let heard = await second.ids(count: 1, within: .seconds(10))
                let heardFirst = await first.ids(count: 1, within: .milliseconds(300))

                // The first commits: its smaller sequence number is handed out after the larger one, not skipped.
                commit.open()
                let later = try await appending.value
                #expect(heard == [later])
                #expect(heardFirst.isEmpty)
                let earlier = try await held.value
                #expect(earlier < later)
                #expect(await first.ids(count: 1, within: .seconds(10)) == [earlier])

                // The tenant's next entry follows, and nothing is handed out twice.
                let next = try await Self.append(tenants[0], msp: msp, in: database)
                #expect(await first.ids(count: 2, within: .seconds(10)) == [earlier, next])
                #expect(await second.ids(count: 2, within: .milliseconds(300)) == [later])
            }
        }
    }

    @Test("a notification's payload names its tenant and entry; a batch's, or one of another form, names none")
    func notificationPayload() throws {
        let tenant = TenantID(UUID())
        let notification = ChangeFeedNotification(tenant: tenant, sequence: 42)
        #expect(ChangeFeedNotification(payload: notification.payload) == notification)
        for payload in [ChangeFeedNotification.batch, "42", "", "\(tenant):", "\(tenant):x", "nope:42"] {
            #expect(ChangeFeedNotification(payload: payload) == nil, "\(payload)")
        }
    }

    @Test("a subscription starts at its tenant's newest entry; another tenant's entries do not move it")
    func subscriptionPosition() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        try await TestDatabase.withService { database in
            try await Self.withHub(database) { hub in
                let own = try await Self.append(tenants[0], msp: msp, in: database)
                _ = try await Self.append(tenants[1], msp: msp, in: database)
                let subscription = try await hub.subscribe(device: DeviceID(UUID()), tenant: tenants[0])
                #expect(subscription.position == own)
                await hub.unsubscribe(subscription.id)
            }
        }
    }
}
