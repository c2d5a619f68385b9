import CharterBundle
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Elevation requests end to end through the real routes: decided at arrival by the effective policy,
/// approved or denied by an approver, expired by the job, heard by the device.
@Suite("Requests")
struct RequestTests {
    struct Setup: Sendable {
        var world: TestApp.World
        var directory: PolicyDirectory
        var device: TestDevice
        var tenant: TenantID { world.tenants[0] }
        var key: String { world.tenantKeys[0] }
    }

    /// A tenant with the sample directory, `settings` as global settings, `subsettings`, and a device on ws1.
    static func setUp(
        _ client: some TestClientProtocol, settings: String? = nil, subsettings: (PolicyDirectory) -> [String] = { _ in [] }
    ) async throws -> Setup {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        if let settings {
            let answer = try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: settings)
            try #require(answer.status == .ok, "\(answer.json)")
        }
        for body in subsettings(directory) {
            let answer = try await client.call(.post, "/v1/tenants/\(tenant)/subsettings", key: key, body: body)
            try #require(answer.status == .created, "\(answer.json)")
        }
        let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
        var device = TestDevice()
        try await device.enroll(client, token: token.secret, hostname: "ws1")
        return Setup(world: world, directory: directory, device: device)
    }

    static func submit(_ client: some TestClientProtocol, _ setup: Setup, body: String) async throws -> Answer {
        try await client.call(.post, "/v1/agent/requests", key: setup.device.token, body: body)
    }

    static let installer = """
        {"kind":"run_as_admin","user":{"upn":"alice"},
         "application":{"file_name":"VPNSetup.exe","path":"C:\\\\Users\\\\alice\\\\Downloads\\\\VPNSetup.exe",
                        "sha256":"\(String(repeating: "ab", count: 32))","signer_subject":"CN=Contoso Ltd",
                        "certificate_thumbprint":"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD","vendor":"Contoso"},
         "reason":"customer visit"}
        """

    static func actions(_ client: some TestClientProtocol, _ setup: Setup) async throws -> [String] {
        let log = try await client.call(.get, "/v1/tenants/\(setup.tenant)/audit-events?limit=200", key: setup.key)
        return log.items.compactMap { $0["action"] as? String }
    }

    @Test("approval required: pending, listed, approved once (409 after), the device hears and reads the decision")
    func approvalFlow() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await Self.setUp(client, settings: #"{"schema_version":1,"approval":{"approval_validity_minutes":60}}"#)
            let alice = Self.installer.replacingOccurrences(of: #"{"upn":"alice"}"#, with: #"{"guid":"\#(setup.directory["alice"])"}"#)
            let submitted = try await Self.submit(client, setup, body: alice)
            #expect(submitted.status == .created, "\(submitted.json)")
            #expect(submitted.json["status"] as? String == "pending")
            #expect(submitted.json["explanation"] as? String == "mode approval_required")
            let id = try #require(submitted.json["id"] as? String)

            let queue = try await client.call(.get, "/v1/tenants/\(setup.tenant)/requests?status=pending", key: setup.key)
            #expect(queue.items.compactMap { $0["id"] as? String } == [id])
            let mspQueue = try await client.call(.get, "/v1/msps/\(setup.world.msp)/requests?status=pending", key: setup.world.mspKey)
            #expect(mspQueue.items.compactMap { $0["id"] as? String } == [id])

            // The device long-polls while the approver decides.
            async let waited = client.call(.get, "/v1/agent/requests/\(id)?wait=20", key: setup.device.token)
            try await Task.sleep(for: .milliseconds(300))
            let approved = try await client.call(
                .post, "/v1/tenants/\(setup.tenant)/requests/\(id)/approve", key: setup.key, body: #"{"comment":"ok for today"}"#
            )
            #expect(approved.status == .ok)
            #expect(approved.json["status"] as? String == "approved")
            let heard = try await waited
            #expect(heard.json["status"] as? String == "approved")
            #expect(heard.json["comment"] as? String == "ok for today")

            let again = try await client.call(.post, "/v1/tenants/\(setup.tenant)/requests/\(id)/deny", key: setup.key, body: "{}")
            expectProblem(again, 409)
            let hints = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: setup.world.msp)
            #expect(hints.filter { $0.event == .decision }.count == 1)
            let actions = try await Self.actions(client, setup)
            #expect(actions.contains("request.submitted"))
            #expect(actions.contains("request.approved"))

            // The same application is allowed without asking again while the approval is valid.
            let rerun = try await Self.submit(client, setup, body: alice)
            #expect(rerun.json["status"] as? String == "allowed")
            #expect((rerun.json["explanation"] as? String)?.hasPrefix("approved at") == true)
        }
    }

    @Test("a pre-approved installer by certificate is allowed without approval, logged or not per its switch")
    func preApprovedByCertificate() async throws {
        for logs in [true, false] {
            let settings = """
                {"schema_version":1,"pre_approved_applications":[{"file_name":"vpnsetup.exe","kind":"installer",
                  "applies_to":["run_as_admin"],"log_to_audit":\(logs),
                  "protection":{"type":"certificate","subject":"CN=Contoso Ltd",
                                "thumbprint":"aabbccddeeff00112233445566778899aabbccdd"}}]}
                """
            try await TestApp.run(TestApp.sealingConfig) { client in
                let setup = try await Self.setUp(client, settings: settings)
                let answer = try await Self.submit(client, setup, body: Self.installer)
                #expect(answer.json["status"] as? String == "allowed")
                #expect(answer.json["logged"] as? Bool == logs || answer.json["logged"] as? Double == (logs ? 1 : 0))
                #expect((answer.json["explanation"] as? String)?.hasPrefix("pre-approved application") == true)
                let actions = try await Self.actions(client, setup)
                #expect(actions.contains("request.allowed") == logs)
            }
        }
    }

    @Test("a user in a disabled subsetting is denied, with the PIN override as the policy says")
    func disabledSubsetting() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await Self.setUp(client) { directory in
                [
                    subsettingBody(
                        name: "Finance locked", groups: [directory["finance"]],
                        overrides: #"{"run_as_admin":{"mode":"disabled","pin_overrides_denial":true}}"#
                    )
                ]
            }
            let body = Self.installer.replacingOccurrences(of: #"{"upn":"alice"}"#, with: #"{"guid":"\#(setup.directory["alice"])"}"#)
            let answer = try await Self.submit(client, setup, body: body)
            #expect(answer.json["status"] as? String == "denied")
            #expect(answer.json["pin_override"] as? Double == 1)
            #expect(answer.json["policy"] as? String == "Finance locked")
            // Bob is not in finance: the global approval_required applies.
            let bob = Self.installer.replacingOccurrences(of: #"{"upn":"alice"}"#, with: #"{"guid":"\#(setup.directory["bob"])"}"#)
            #expect(try await Self.submit(client, setup, body: bob).json["status"] as? String == "pending")
        }
    }

    @Test("reason required without a reason is a 422 naming /reason and stores nothing; bad input names its field")
    func reasonRequired() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await Self.setUp(client, settings: #"{"schema_version":1,"admin_session":{"mode":"reason_required"}}"#)
            let noReason = try await Self.submit(client, setup, body: #"{"kind":"admin_session","user":{"upn":"alice"}}"#)
            expectProblem(noReason, 422, field: "/reason")
            let withReason = try await Self.submit(
                client, setup, body: #"{"kind":"admin_session","user":{"upn":"alice"},"reason":"driver update"}"#
            )
            #expect(withReason.json["status"] as? String == "allowed")
            #expect(withReason.json["session_minutes"] as? Double != nil)
            let list = try await client.call(.get, "/v1/tenants/\(setup.tenant)/requests", key: setup.key)
            #expect(list.items.count == 1)

            expectProblem(try await Self.submit(client, setup, body: #"{"kind":"run_as_admin","user":{"upn":"a"}}"#), 422, field: "/application")
            expectProblem(try await Self.submit(client, setup, body: #"{"kind":"sudo","user":{"upn":"a"}}"#), 422, field: "/kind")
            let badHash = Self.installer.replacingOccurrences(of: String(repeating: "ab", count: 32), with: "xyz")
            expectProblem(try await Self.submit(client, setup, body: badHash), 422, field: "/application/sha256")
        }
    }

    @Test("a pending request expires after its lifetime; the device hears it; deciding it then is a 409")
    func expiry() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await Self.setUp(client)
            let id = try #require(try await Self.submit(client, setup, body: Self.installer).json["id"] as? String)
            _ = try await TestApp.withOwner { database in
                try await database.withTenant(setup.tenant, msp: setup.world.msp, logger: TestApp.logger) { tx in
                    // Only the owner may move the expiry; row-level security binds it to the tenant too.
                    try await tx.query(
                        """
                        UPDATE elevation_requests SET expires_at = now() - interval '1 second'
                        WHERE tenant_id = \(setup.tenant.rawValue)
                        """
                    )
                }
            }
            try await TestApp.withService { database in
                let job = RequestExpiryService(
                    requests: RequestService(database: database, emailsApprovers: false), interval: .seconds(60),
                    logger: TestApp.logger
                )
                try await job.expireDue(now: Date())
                try await job.expireDue(now: Date())
            }
            let read = try await client.call(.get, "/v1/tenants/\(setup.tenant)/requests/\(id)", key: setup.key)
            #expect(read.json["status"] as? String == "expired")
            expectProblem(try await client.call(.post, "/v1/tenants/\(setup.tenant)/requests/\(id)/approve", key: setup.key, body: "{}"), 409)
            let hints = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: setup.world.msp)
            #expect(hints.filter { $0.event == .decision }.count == 1)
            #expect(try await Self.actions(client, setup).filter { $0 == "request.expired" }.count == 1)
        }
    }
}
