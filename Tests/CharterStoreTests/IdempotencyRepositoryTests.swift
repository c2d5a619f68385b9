import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

@Suite("Idempotency keys in the store")
struct IdempotencyRepositoryTests {
    static let fingerprint = [UInt8](repeating: 7, count: 32)
    static let answer = StoredAnswer(status: 201, contentType: "application/json", location: nil, etag: "\"1\"", body: [1, 2])

    static func claim(
        _ database: Database, _ owner: IdempotencyOwner, key: String = "k", fingerprint: [UInt8] = fingerprint,
        now: Date = Date(), lease: TimeInterval = 300, retention: TimeInterval = 86_400
    ) async throws -> IdempotencyClaim {
        try await database.withIdempotencyOwner(owner, logger: TestDatabase.logger) { tx in
            try await tx.idempotencyKeys.claim(
                owner, key: key, fingerprint: fingerprint, now: now, lockedUntil: now.addingTimeInterval(lease),
                expiresAt: now.addingTimeInterval(retention)
            )
        }
    }

    @Test("a claimed key is running until completed, then replays; another fingerprint is a mismatch")
    func lifecycle() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let owner = IdempotencyOwner(msp: msp, tenant: tenants[0], credential: UUID())
        try await TestDatabase.with(TestDatabase.appURL) { database in
            #expect(try await Self.claim(database, owner) == .claimed)
            #expect(try await Self.claim(database, owner) == .running)
            #expect(try await Self.claim(database, owner, fingerprint: [UInt8](repeating: 8, count: 32)) == .mismatch)
            try await database.withIdempotencyOwner(owner, logger: TestDatabase.logger) { tx in
                try await tx.idempotencyKeys.complete(owner, key: "k", with: Self.answer)
            }
            #expect(try await Self.claim(database, owner) == .replay(Self.answer))
        }
    }

    @Test("a released key is free again; an abandoned claim is taken over after its lease, an answer after retention")
    func releaseLeaseRetention() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let owner = IdempotencyOwner(msp: msp, tenant: tenants[0], credential: UUID())
        let now = Date()
        try await TestDatabase.with(TestDatabase.appURL) { database in
            #expect(try await Self.claim(database, owner, now: now) == .claimed)
            try await database.withIdempotencyOwner(owner, logger: TestDatabase.logger) { tx in
                try await tx.idempotencyKeys.release(owner, key: "k")
            }
            #expect(try await Self.claim(database, owner, now: now) == .claimed)
            #expect(try await Self.claim(database, owner, now: now.addingTimeInterval(299)) == .running)
            #expect(try await Self.claim(database, owner, now: now.addingTimeInterval(301)) == .claimed)
            try await database.withIdempotencyOwner(owner, logger: TestDatabase.logger) { tx in
                try await tx.idempotencyKeys.complete(owner, key: "k", with: Self.answer)
            }
            #expect(try await Self.claim(database, owner, now: now.addingTimeInterval(86_000)) == .replay(Self.answer))
            #expect(try await Self.claim(database, owner, now: now.addingTimeInterval(301 + 86_401)) == .claimed)
        }
    }

    @Test("keys of one credential, tenant or MSP are invisible to the others")
    func isolation() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        let credential = UUID()
        let inTenant = IdempotencyOwner(msp: msp, tenant: tenants[0], credential: credential)
        try await TestDatabase.with(TestDatabase.appURL) { database in
            #expect(try await Self.claim(database, inTenant) == .claimed)
            try await database.withIdempotencyOwner(inTenant, logger: TestDatabase.logger) { tx in
                try await tx.idempotencyKeys.complete(inTenant, key: "k", with: Self.answer)
            }
            // Another credential of the same tenant.
            #expect(try await Self.claim(database, IdempotencyOwner(msp: msp, tenant: tenants[0], credential: UUID())) == .claimed)
            // The row stays invisible outside its tenant, whatever the query asks.
            for scope in [IdempotencyOwner(msp: msp, tenant: tenants[1], credential: credential),
                          IdempotencyOwner(msp: msp, tenant: nil, credential: credential)] {
                let visible = try await database.withIdempotencyOwner(scope, logger: TestDatabase.logger) { tx in
                    let rows = try await tx.query("SELECT count(*) FROM idempotency_keys")
                    for try await count in rows.decode(Int.self) { return count }
                    return -1
                }
                #expect(visible == 0)
            }
        }
    }

    @Test("pruning deletes the expired keys of every tenant and keeps the others")
    func prune() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        let expired = IdempotencyOwner(msp: msp, tenant: tenants[0], credential: UUID())
        let kept = IdempotencyOwner(msp: msp, tenant: tenants[1], credential: UUID())
        try await TestDatabase.with(TestDatabase.appURL) { database in
            #expect(try await Self.claim(database, expired, now: Date().addingTimeInterval(-100), retention: 10) == .claimed)
            #expect(try await Self.claim(database, kept) == .claimed)
            let pruned = try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                try await tx.idempotencyKeys.pruneExpired()
            }
            #expect(pruned >= 1)
            #expect(try await Self.claim(database, kept) == .running)
            #expect(try await Self.claim(database, expired, now: Date().addingTimeInterval(-100), retention: 1_000) == .claimed)
        }
    }
}
