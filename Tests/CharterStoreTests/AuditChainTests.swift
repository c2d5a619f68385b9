import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

@Suite("Audit hash chain")
struct AuditChainTests {
    @Test("appended events link into a chain that verifies")
    func chainVerifies() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.with(TestDatabase.appURL) { database in
            let events = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                var events: [AuditEvent] = []
                for index in 1...3 {
                    events.append(
                        try await tx.audit.append(
                            AuditRecord(occurredAt: Date(), actor: .system, action: "test.\(index)",
                                        targetType: "test", targetID: "\(index)", after: "{\"n\":\(index)}"),
                            to: .tenant(tenant)
                        )
                    )
                }
                return events
            }
            #expect(events.map(\.sequence) == [1, 2, 3])
            #expect(events[0].previousHash == AuditChain.genesis)
            #expect(events[1].previousHash == events[0].hash)
            let verification = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.verify(.tenant(tenant))
            }
            #expect(verification.eventsChecked == 3)
            #expect(verification.firstBreak == nil)
        }
    }

    @Test("changing one stored row directly is detected at that row")
    func tamperingDetected() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.with(TestDatabase.appURL) { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                for index in 1...4 {
                    try await tx.audit.append(
                        AuditRecord(occurredAt: Date(), actor: .system, action: "test.\(index)",
                                    targetType: "test", targetID: "\(index)"),
                        to: .tenant(tenant)
                    )
                }
            }
        }
        // Only the owner may update the log (the service role may not), inside the tenant like anyone.
        _ = try await TestDatabase.with(TestDatabase.ownerURL) { owner in
            try await owner.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.query(
                    "UPDATE audit_events SET action = 'test.forged' WHERE tenant_id = \(tenant.rawValue) AND seq = 3"
                )
            }
        }
        try await TestDatabase.with(TestDatabase.appURL) { database in
            let verification = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.verify(.tenant(tenant))
            }
            #expect(verification.firstBreak?.sequence == 3)
        }
    }

    @Test("concurrent appends never fork the chain")
    func concurrentAppends() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.with(TestDatabase.appURL) { database in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        _ = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                            try await tx.audit.append(
                                AuditRecord(occurredAt: Date(), actor: .system, action: "test.\(index)",
                                            targetType: "test", targetID: "\(index)"),
                                to: .tenant(tenant)
                            )
                        }
                    }
                }
                try await group.waitForAll()
            }
            let verification = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.verify(.tenant(tenant))
            }
            #expect(verification.eventsChecked == 20)
            #expect(verification.firstBreak == nil)
        }
    }
}

extension AuditChainTests {
    /// The snapshot writer before issue 15 (`AuditJSON` over `JSONSerialization`), kept here to write events the
    /// old way.
    static func writtenTheOldWay(_ object: [String: Any]) throws -> String {
        String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]),
            as: UTF8.self
        )
    }

    @Test("an event whose snapshot the old writer made still verifies beside ones the canonical writer makes")
    func oldSnapshotsVerify() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        let snapshot: [String: any Sendable] = [
            "name": "Ärzte/Praxis \"Nord\"\t", "B": true, "a": 1, "a10": ["x", "y"], "a9": ["z": 2],
        ]
        let old = try Self.writtenTheOldWay(snapshot)
        let canonical = AuditJSON.encode(snapshot)
        #expect(old != canonical, "the two writers agree on this snapshot: \(old)")
        #expect(canonical == #"{"B":true,"a":1,"a10":["x","y"],"a9":{"z":2},"name":"Ärzte/Praxis \"Nord\"\t"}"#)
        try await TestDatabase.with(TestDatabase.appURL) { database in
            let (verification, stored) = try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) {
                tx in
                for (index, text) in [canonical, old, canonical].enumerated() {
                    try await tx.audit.append(
                        AuditRecord(
                            occurredAt: Date(), actor: .system, action: "test.\(index)", targetType: "test",
                            targetID: "\(index)", before: text, after: text
                        ),
                        to: .tenant(tenant)
                    )
                }
                let stored = try await tx.audit.list(.tenant(tenant), before: nil, limit: 10)
                return (try await tx.audit.verify(.tenant(tenant)), stored)
            }
            #expect(verification.eventsChecked == 3)
            #expect(verification.firstBreak == nil)
            // Stored and read back byte for byte, whichever writer made it.
            #expect(stored.sorted { $0.sequence < $1.sequence }.map(\.record.after) == [canonical, old, canonical])
        }
    }
}
