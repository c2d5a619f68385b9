import CharterCore
import CharterServices
import CharterStore
import Foundation
import HummingbirdTesting
import Testing

@testable import CharterServer

extension EmailFlowTests {
    @Test("a tenant over its hourly email cap has the rest recorded unsent, while another tenant's mail goes out")
    func perTenantCap() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let (flood, _) = try await Self.submitted(client) { request, tx in
                try await ApprovalEmailOutbox.email(
                    .pending, about: request, to: ["a@example.test", "b@example.test", "c@example.test"], in: tx,
                    at: Date()
                )
            }
            let (quiet, _) = try await Self.submitted(client) { request, tx in
                try await ApprovalEmailOutbox.email(.pending, about: request, to: ["d@example.test"], in: tx, at: Date())
            }
            let sink = try await SMTPSink.start(credentials: SMTPClientTests.credentials)
            var configuration = SMTPConfiguration(
                host: "127.0.0.1", port: sink.port, from: Mailbox(address: "charter@example.test")
            )
            configuration.caFile = sink.certificate
            configuration.credentials = .init(
                username: SMTPClientTests.credentials.user, password: SMTPClientTests.credentials.password
            )
            configuration.timeoutSeconds = 5
            let smtp = try SMTPClient(configuration: configuration)
            try await TestApp.withService { database in
                let service = EmailDeliveryService(
                    database: database, client: smtp, pollInterval: .seconds(60), logger: TestApp.logger,
                    maximumPerTenantPerHour: 1
                )
                // The first pass sends one delivery of each tenant (the cap allows one an hour); the second finds
                // the flooding tenant at its cap and records the rest unsent.
                try await service.deliverDue()
                try await service.deliverDue()
            }
            let flooded = try await Self.deliveries(in: flood.world)
            #expect(flooded.map(\.status).sorted() == ["failed", "failed", "sent"])
            for row in flooded where row.status == "failed" {
                #expect(row.attempts == 0)
                #expect(!row.isSent)
                #expect(row.error?.contains("email.max_per_tenant_per_hour") == true, "\(row.error ?? "")")
            }
            #expect(try await Self.deliveries(in: quiet.world).map(\.status) == ["sent"])
        }
    }
}
