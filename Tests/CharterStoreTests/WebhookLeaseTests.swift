import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

@Suite("Webhook delivery leases")
struct WebhookLeaseTests {
    @Test("a claimed delivery stays with its claimer for the lease; handed back, it is due at once for any replica")
    func release() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                let now = Date()
                let webhook = Webhook(
                    id: UUID(), url: "https://hooks.example.test/charter", events: ["request.created"],
                    secretSealed: "sealed", isEnabled: true, createdAt: now
                )
                try await tx.webhooks.create(webhook, in: tenant, by: nil)
                try await tx.webhooks.enqueue(tenant, event: "request.created", payload: "{}", at: now)
                let token = UUID()
                let claimed = try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, token: token, at: now)
                #expect(claimed.count == 1)
                let later = now.addingTimeInterval(2)
                #expect(try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, token: UUID(), at: later).isEmpty)
                try await tx.webhooks.release(tenant, deliveries: claimed.map(\.delivery.id), token: token, at: later)
                let again = try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, token: UUID(), at: later)
                #expect(again.map(\.delivery.id) == claimed.map(\.delivery.id))
                #expect(again.first?.delivery.attempts == 0)
            }
        }
    }

    /// A delivery claimed by replica A, whose lease ran out and which replica B then claimed and delivered.
    static func takenOver(_ tx: Transaction, _ tenant: TenantID, at now: Date) async throws
        -> (delivery: UUID, first: UUID, second: UUID)
    {
        let webhook = Webhook(
            id: UUID(), url: "https://hooks.example.test/charter", events: ["request.created"],
            secretSealed: "sealed", isEnabled: true, createdAt: now
        )
        try await tx.webhooks.create(webhook, in: tenant, by: nil)
        try await tx.webhooks.enqueue(tenant, event: "request.created", payload: "{}", at: now)
        let first = UUID()
        let claimedByA = try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, token: first, at: now)
        let delivery = try #require(claimedByA.first?.delivery.id)
        let second = UUID()
        let afterLease = now.addingTimeInterval(121)
        let claimedByB = try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, token: second, at: afterLease)
        #expect(claimedByB.map(\.delivery.id) == [delivery])
        return (delivery, first, second)
    }

    static func status(_ tx: Transaction, _ tenant: TenantID, _ webhookDelivery: UUID) async throws
        -> (status: String, attempts: Int, code: Int?)
    {
        let rows = try await tx.query(
            "SELECT status, attempts, last_status_code FROM webhook_deliveries WHERE id = \(webhookDelivery)"
        )
        for try await row in rows.decode((String, Int, Int?).self) { return row }
        throw StoreError.notFound
    }

    @Test("a late writer whose lease was taken over cannot turn delivered back into pending")
    func lateWriterIsFenced() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                let now = Date()
                let (delivery, first, second) = try await Self.takenOver(tx, tenant, at: now)
                let delivered = try await tx.webhooks.record(
                    tenant, delivery: delivery, token: second, status: .delivered, statusCode: 200, error: nil,
                    retryAt: now, at: now.addingTimeInterval(122)
                )
                #expect(delivered)
                let late = try await tx.webhooks.record(
                    tenant, delivery: delivery, token: first, status: .pending, statusCode: nil, error: "timed out",
                    retryAt: now.addingTimeInterval(200), at: now.addingTimeInterval(130)
                )
                #expect(!late)
                try await tx.webhooks.release(tenant, deliveries: [delivery], token: first, at: now.addingTimeInterval(131))
                let row = try await Self.status(tx, tenant, delivery)
                #expect(row.status == "delivered" && row.attempts == 1 && row.code == 200)
            }
        }
    }

    @Test("the replaced claim holder can neither record first nor hand the delivery back")
    func replacedHolderRecordsNothing() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let tenant = tenants[0]
        try await TestDatabase.with(TestDatabase.ownerURL) { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                let now = Date()
                let (delivery, first, second) = try await Self.takenOver(tx, tenant, at: now)
                let late = try await tx.webhooks.record(
                    tenant, delivery: delivery, token: first, status: .delivered, statusCode: 200, error: nil,
                    retryAt: now, at: now.addingTimeInterval(122)
                )
                #expect(!late)
                try await tx.webhooks.release(tenant, deliveries: [delivery], token: first, at: now.addingTimeInterval(122))
                // Still leased to B: not due for anyone else.
                #expect(
                    try await tx.webhooks.claimDue(
                        tenant, limit: 10, lease: 120, token: UUID(), at: now.addingTimeInterval(123)
                    ).isEmpty
                )
                let row = try await Self.status(tx, tenant, delivery)
                #expect(row.status == "pending" && row.attempts == 0)
                #expect(
                    try await tx.webhooks.record(
                        tenant, delivery: delivery, token: second, status: .pending, statusCode: 500,
                        error: "HTTP status 500", retryAt: now.addingTimeInterval(200), at: now.addingTimeInterval(124)
                    )
                )
            }
        }
    }
}
