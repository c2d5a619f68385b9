import CharterCore
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Quotas per tenant (devices, directory connections, webhooks) and per device (known users).
@Suite("Quotas")
struct QuotaTests {
    let domain = TestDomain()

    func connectionBody(_ name: String) -> String {
        """
        {"name":"\(name)","urls":["\(domain.url)"],"base_dn":"\(domain.baseDN)","bind_dn":"\(domain.bindDN)",
         "bind_password":"\(domain.password)","tls_mode":"plain","enabled":false}
        """
    }

    @Test("concurrent creates of directory connections stop exactly at the quota with 409 quota-exceeded")
    func directoryConnections() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        var config = TestApp.config
        config.kek = TestDomain.kek
        config.limits.quotas.directoryConnectionsPerTenant = 3
        try await TestApp.run(config) { client in
            let base = "/v1/tenants/\(world.tenants[0])/directory/connections"
            let bodies = (0..<10).map { connectionBody("DC \($0)") }
            let statuses = try await withThrowingTaskGroup(of: Answer.self) { group in
                for body in bodies {
                    group.addTask { try await client.call(.post, base, key: world.tenantKeys[0], body: body) }
                }
                var answers: [Answer] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            #expect(statuses.filter { $0.status == .created }.count == 3)
            let refused = statuses.filter { $0.status != .created }
            #expect(refused.count == 7)
            for answer in refused {
                expectProblem(answer, 409)
                #expect(answer.json["code"] as? String == "quota-exceeded")
            }
            #expect(try await client.call(.get, base, key: world.tenantKeys[0]).items.count == 3)
            // Another tenant has its own quota.
            let other = "/v1/tenants/\(world.tenants[1])/directory/connections"
            let otherBody = connectionBody("Other")
            #expect(try await client.call(.post, other, key: world.tenantKeys[1], body: otherBody).status == .created)
        }
    }

    @Test("a device beyond the tenant's quota is refused at enrollment; a device remembers its most recent users only")
    func devicesAndKnownUsers() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        var config = TestApp.sealingConfig
        config.limits.quotas.devicesPerTenant = 1
        config.limits.quotas.knownUsersPerDevice = 2
        try await TestApp.run(config) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: world.tenantKeys[0])
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "QUOTA-1")
            let second = TestDevice()
            let refused = try await client.call(
                .post, "/v1/agent/enroll", body: second.enrollBody(token: token.secret, hostname: "QUOTA-2")
            )
            expectProblem(refused, 409)
            #expect(refused.json["code"] as? String == "quota-exceeded")

            for upns in [["a@example.test", "b@example.test"], ["c@example.test"]] {
                let users = upns.map { #"{"upn":"\#($0)"}"# }.joined(separator: ",")
                let answer = try await client.call(
                    .post, "/v1/agent/checkin", key: device.token, body: #"{"agent_version":"1","users":[\#(users)]}"#
                )
                #expect(answer.status == .ok)
            }
            let deviceID = try #require(DeviceID(device.id))
            let known = try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.devices.users(tenant, of: deviceID, since: .distantPast, limit: 100)
                }
            }
            #expect(known.count == 2)
            #expect(known.contains { $0.upn == "c@example.test" })
        }
    }
}
