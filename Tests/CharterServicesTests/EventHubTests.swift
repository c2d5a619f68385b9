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

    /// The tenant's binding as the store reports it with a device's credential (only the store makes one): a device
    /// is enrolled for it.
    static func binding(of tenant: TenantID, msp: MSPID, in database: Database) async throws -> TenantBinding {
        let id = DeviceID.random()
        let now = Date()
        try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
            let token = EnrollmentToken(
                id: .random(), name: "hub", expiresAt: nil, maximumUses: nil, createdAt: now, createdBy: nil
            )
            try await tx.enrollmentTokens.create(token, in: tenant, secretHash: Array(repeating: 9, count: 32))
            let device = Device(
                id: id, hostname: "HUB-1", os: nil, agentVersion: "1.0.0", reportedSID: nil, reportedGUID: nil,
                computer: nil, encryptionKey: Data(repeating: 1, count: 32), signingKey: Data(repeating: 2, count: 32),
                pinSecretSealed: "sealed", enrolledAt: now, tokenExpiresAt: now.addingTimeInterval(3600)
            )
            try await tx.devices.create(device, in: tenant, tokenHash: Array(repeating: 3, count: 32), enrollmentToken: token.id)
        }
        let credential = try await database.readWithoutTenant(logger: TestDatabase.logger) { tx in
            try await tx.devices.credential(for: id)
        }
        return try #require(credential).binding
    }

    @Test("a hinted stream gets its bundle pushed; one that reads nothing gets one push, not one per hint")
    func pushesFollowHints() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        let asked = Mutex<[[DeviceID]]>([])
        try await TestDatabase.withService { database in
            let binding = try await Self.binding(of: tenant, msp: msp, in: database)
            try await Self.withHub(database) { hub in
                hub.pushBundles { devices, given, _ in
                    #expect(given == binding)
                    asked.withLock { $0.append(devices) }
                    return Dictionary(uniqueKeysWithValues: devices.map { device in
                        (device, StoredBundle(
                            version: 7, contentHash: Data(count: 32), feedSequence: 1, keyState: "k",
                            issuedAt: Date(timeIntervalSince1970: 1_767_225_600), refreshAfter: .distantFuture,
                            expiresAt: .distantFuture, compact: "h.k.iv.c.t"
                        ))
                    })
                }
                let reader = DeviceID(UUID())
                let stalled = DeviceID(UUID())
                let reading = try await hub.subscribe(device: reader, tenant: tenant, isStream: true, bundles: binding)
                let notReading = try await hub.subscribe(device: stalled, tenant: tenant, isStream: true, bundles: binding)
                // A long poll (no binding) is never pushed to.
                _ = try await hub.subscribe(device: DeviceID(UUID()), tenant: tenant)

                var received: [HubMessage] = []
                var messages = reading.messages.makeAsyncIterator()
                for round in 1...3 {
                    let sequence = try await Self.append(tenant, msp: msp, in: database)
                    while received.count < 2 * round, let message = await messages.next() {
                        if case .heartbeat = message { continue }
                        received.append(message)
                    }
                    #expect(received.suffix(2).first == .event(id: sequence, name: "bundle", data: #"{"reason":"test"}"#))
                }
                guard case .bundle(let data) = received.last else {
                    Issue.record("no pushed bundle: \(received)")
                    return
                }
                #expect(data.contains(#""etag":"\"7.1767225600\"""#) && data.contains(#""bundle":"h.k.iv.c.t""#))
                // The reading stream was pushed to after each hint; the stalled one after the first only.
                let pushed = asked.withLock { $0.joined() }
                #expect(pushed.filter { $0 == reader }.count == 3)
                #expect(pushed.filter { $0 == stalled }.count == 1)
                _ = notReading
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
