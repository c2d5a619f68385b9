import CharterStore
import Foundation
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
                let claimed = try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, at: now)
                #expect(claimed.count == 1)
                let later = now.addingTimeInterval(2)
                #expect(try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, at: later).isEmpty)
                try await tx.webhooks.release(tenant, deliveries: claimed.map(\.delivery.id), at: later)
                let again = try await tx.webhooks.claimDue(tenant, limit: 10, lease: 120, at: later)
                #expect(again.map(\.delivery.id) == claimed.map(\.delivery.id))
                #expect(again.first?.delivery.attempts == 0)
            }
        }
    }
}
