import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

@Suite("Audit chain naming people")
struct AuditPersonChainTests {
    static let person = AuditRecord.Actor(
        id: UUID(), name: "ana@msp.test", requestID: "r1", clientIP: "192.0.2.1",
        person: .init(issuer: "https://idp.test", subject: "ana", email: "ana@msp.test")
    )

    @Test("an API key's event hashes as before; a person's is tagged v2 and covers issuer, subject and email")
    func encoding() {
        let scope = UUID()
        let key = AuditRecord.Actor(id: Self.person.id, name: Self.person.name, requestID: "r1", clientIP: "192.0.2.1")
        let record = AuditRecord(occurredAt: Date(timeIntervalSince1970: 1_800_000_000), actor: key, action: "a",
                                 targetType: "t", targetID: "1")
        func hash(_ actor: AuditRecord.Actor) -> [UInt8] {
            var changed = record
            changed.actor = actor
            return AuditChain.hash(scope: scope, sequence: 1, record: changed, occurredAtMicroseconds: 1,
                                   previousHash: AuditChain.genesis)
        }
        var otherEmail = Self.person
        otherEmail.person?.email = nil
        var otherSubject = Self.person
        otherSubject.person?.subject = "ana2"
        let hashes = [hash(key), hash(Self.person), hash(otherEmail), hash(otherSubject)]
        #expect(Set(hashes).count == hashes.count)
    }

    @Test("a person's events and API keys' events verify in one chain; changing the stored email is detected")
    func personChain() async throws {
        let (msp, _) = try await TestDatabase.makeMSP(tenants: 1)
        try await TestDatabase.with(TestDatabase.appURL) { database in
            try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                for (index, actor) in [AuditRecord.Actor.system, Self.person, .system].enumerated() {
                    try await tx.audit.append(
                        AuditRecord(occurredAt: Date(), actor: actor, action: "test.\(index)", targetType: "test",
                                    targetID: "\(index)"),
                        to: .msp(msp)
                    )
                }
            }
            let (events, verification) = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                (try await tx.audit.list(.msp(msp), before: nil, limit: 10), try await tx.audit.verify(.msp(msp)))
            }
            #expect(verification.eventsChecked == 3 && verification.firstBreak == nil)
            #expect(events.first { $0.sequence == 2 }?.record.actor == Self.person)
        }
        _ = try await TestDatabase.with(TestDatabase.ownerURL) { owner in
            try await owner.withMSP(msp, logger: TestDatabase.logger) { tx in
                try await tx.query(
                    "UPDATE msp_audit_events SET actor_email = 'eve@msp.test' WHERE msp_id = \(msp.rawValue) AND seq = 2"
                )
            }
        }
        try await TestDatabase.with(TestDatabase.appURL) { database in
            let verification = try await database.withMSP(msp, logger: TestDatabase.logger) { tx in
                try await tx.audit.verify(.msp(msp))
            }
            #expect(verification.firstBreak?.sequence == 2)
        }
    }
}
