import CharterCore
import CharterServices
import CharterStore
import CharterTestSupport
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The periodic audit chain verification against the real PostgreSQL, as the service role.
@Suite("Audit chain verification")
struct AuditChainVerifierTests {
    /// Records every break it is told of, in the transaction that records it.
    final class RecordingAlarm: AuditChainAlarm {
        let found = Mutex<[AuditChainBreak]>([])

        func auditChainBroken(_ report: AuditChainBreak, in tx: Transaction) async throws {
            found.withLock { $0.append(report) }
        }
    }

    static func verifier(_ database: Database, alarm: RecordingAlarm? = nil, maximumEvents: Int = 10_000) -> AuditChainVerifier {
        AuditChainVerifier(
            database: database, interval: .seconds(60), maximumEvents: maximumEvents, alarm: alarm,
            logger: TestDatabase.logger
        )
    }

    static func append(_ count: Int, to tenant: TenantID, msp: MSPID, in database: Database) async throws {
        try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
            for index in 0..<count {
                try await tx.audit.append(
                    AuditRecord(
                        occurredAt: Date(), actor: .system, action: "test.\(index)", targetType: "test",
                        targetID: "\(index)"
                    ),
                    to: .tenant(tenant)
                )
            }
        }
    }

    /// Changes one stored event as only the schema owner can.
    static func forge(_ sequence: Int64, of tenant: TenantID, msp: MSPID) async throws {
        _ = try await TestDatabase.withOwner { owner in
            try await owner.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.query(
                    """
                    UPDATE audit_events SET action = 'test.forged'
                    WHERE tenant_id = \(tenant.rawValue) AND seq = \(sequence)
                    """
                )
            }
        }
    }

    @Test("each pass verifies only the events appended since the last one, and is listed as due only then")
    func incremental() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.withService { database in
            let verifier = Self.verifier(database, maximumEvents: 4)
            func isDue() async throws -> Bool {
                try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                    try await tx.auditChainStates.due(limit: 1_000_000).contains { $0.tenant == tenant }
                }
            }
            #expect(try await isDue())
            try await Self.append(6, to: tenant, msp: msp, in: database)
            // At most four events a pass: the rest wait for the next.
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 4, events: 4))
            #expect(try await isDue())
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 6, events: 2))
            #expect(try await isDue() == false)
            try await Self.append(1, to: tenant, msp: msp, in: database)
            #expect(try await isDue())
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 7, events: 1))
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 7, events: 0))
        }
    }

    @Test("a forged event is found broken once, the alarm is told in the same pass, and the state says since when")
    func broken() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        let alarm = RecordingAlarm()
        try await TestDatabase.withService { database in
            let verifier = Self.verifier(database, alarm: alarm)
            try await Self.append(3, to: tenant, msp: msp, in: database)
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 3, events: 3))
            try await Self.append(3, to: tenant, msp: msp, in: database)
            try await Self.forge(5, of: tenant, msp: msp)
            guard case .broken(let found) = try await verifier.verify(tenant, msp: msp) else {
                Issue.record("the forged event was not found")
                return
            }
            #expect(found.sequence == 5)
            #expect(found.reason == "content does not match its hash")
            #expect(alarm.found.withLock { $0 } == [found])
            // Broken stays broken: not verified again, not told again, not due.
            #expect(try await verifier.verify(tenant, msp: msp) == .skipped)
            #expect(alarm.found.withLock { $0.count } == 1)
            let due = try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                try await tx.auditChainStates.due(limit: 1_000_000)
            }
            #expect(!due.contains { $0.tenant == tenant })
            let overview = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                try await tx.overview.tenants(onlineSince: Date(), staleBefore: Date(), only: nil)
            }
            let chain = try #require(overview.first?.auditChain)
            #expect(chain.status == .broken)
            #expect(chain.brokenAt == 5)
            #expect(chain.verifiedThrough == 4)
            #expect(chain.since == chain.lastVerifiedAt)
        }
    }

    @Test("with the alert service as its alarm, a break queues one audit.chain_broken delivery, in the pass's transaction")
    func alertQueued() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.withService { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.webhooks.create(
                    Webhook(
                        id: UUID(), url: "https://hooks.example/charter", events: [AlertEvent.chainBroken],
                        secretSealed: "unused", isEnabled: true, createdAt: Date()
                    ),
                    in: tenant, by: nil
                )
            }
            let verifier = AuditChainVerifier(
                database: database, interval: .seconds(60), maximumEvents: 10_000,
                alarm: AlertService(database: database), logger: TestDatabase.logger
            )
            try await Self.append(4, to: tenant, msp: msp, in: database)
            try await Self.forge(3, of: tenant, msp: msp)
            guard case .broken(let found) = try await verifier.verify(tenant, msp: msp) else {
                Issue.record("the forged event was not found")
                return
            }
            #expect(try await verifier.verify(tenant, msp: msp) == .skipped)
            let payloads = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                var payloads: [String] = []
                let rows = try await tx.query(
                    "SELECT payload FROM webhook_deliveries WHERE tenant_id = \(tenant.rawValue) AND event = \(AlertEvent.chainBroken)"
                )
                for try await payload in rows.decode(String.self) { payloads.append(payload) }
                return payloads
            }
            #expect(payloads.count == 1)
            let payload = try #require(payloads.first)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any])
            let chain = try #require(object["audit_chain"] as? [String: Any])
            #expect(object["tenant_id"] as? String == tenant.description)
            #expect(found.sequence == 3)
            #expect(chain["first_break_sequence"] as? Int == 3)
            #expect(chain["events_checked"] as? Int == found.eventsChecked)
        }
    }

    @Test("the last verified event changed after it was verified is found at the next pass")
    func anchorChanged() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.withService { database in
            let verifier = Self.verifier(database)
            try await Self.append(3, to: tenant, msp: msp, in: database)
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 3, events: 3))
            try await Self.forge(3, of: tenant, msp: msp)
            try await Self.append(1, to: tenant, msp: msp, in: database)
            guard case .broken(let found) = try await verifier.verify(tenant, msp: msp) else {
                Issue.record("the changed event was not found")
                return
            }
            #expect(found.sequence == 3)
            #expect(found.reason == "a verified event was changed")
        }
    }

    @Test("a state held by another transaction (another replica verifying) is skipped, not waited for")
    func heldElsewhere() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.withService { database in
            let verifier = Self.verifier(database)
            try await Self.append(2, to: tenant, msp: msp, in: database)
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 2, events: 2))
            try await Self.append(1, to: tenant, msp: msp, in: database)
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                let held = try await tx.auditChainStates.claim(tenant, now: Date())
                #expect(held != nil)
                let outcome = try await verifier.verify(tenant, msp: msp)
                #expect(outcome == .skipped)
            }
            #expect(try await verifier.verify(tenant, msp: msp) == .verified(through: 3, events: 1))
        }
    }
}
