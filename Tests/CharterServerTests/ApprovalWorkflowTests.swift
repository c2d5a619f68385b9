import CharterBundle
import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// The approval workflow of issue 19: approving for a scope and a duration, approving into the pre-approved
/// applications, and the mode that needs a reason and an approval.
@Suite("Approval workflow")
struct ApprovalWorkflowTests {
    static let sha = String(repeating: "ab", count: 32)

    /// A `run_as_admin` request for VPNSetup.exe by `user` (a directory user's GUID, or a UPN nobody has).
    static func request(user: String, sha256: String? = sha, reason: String? = "customer visit") -> String {
        let userJSON = UUID(uuidString: user) != nil ? #"{"guid":"\#(user)"}"# : #"{"upn":"\#(user)"}"#
        let hash = sha256.map { #","sha256":"\#($0)""# } ?? ""
        let reasonJSON = reason.map { #","reason":"\#($0)""# } ?? ""
        return #"""
            {"kind":"run_as_admin","user":\#(userJSON),"application":{"file_name":"VPNSetup.exe",
             "path":"C:\\Users\\x\\Downloads\\VPNSetup.exe"\#(hash),"vendor":"Contoso"}\#(reasonJSON)}
            """#
    }

    /// A second device, on ws2.
    static func enrollSecond(_ client: some TestClientProtocol, _ setup: RequestTests.Setup) async throws -> TestDevice {
        let token = try await EndpointTests.createToken(client, tenant: setup.tenant, key: setup.key)
        var device = TestDevice()
        try await device.enroll(client, token: token.secret, hostname: "ws2")
        return device
    }

    static func submit(_ client: some TestClientProtocol, _ device: TestDevice, _ body: String) async throws -> Answer {
        try await client.call(.post, "/v1/agent/requests", key: device.token, body: body)
    }

    static func approve(
        _ client: some TestClientProtocol, _ setup: RequestTests.Setup, _ id: String, _ body: String, key: String? = nil
    ) async throws -> Answer {
        try await client.call(.post, "/v1/tenants/\(setup.tenant)/requests/\(id)/approve", key: key ?? setup.key, body: body)
    }

    @Test("request → approval for a group for an hour → a member's request elsewhere is allowed, others wait → expiry")
    func groupScopeEndToEnd() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let ws2 = try await Self.enrollSecond(client, setup)
            let alice = setup.directory["alice"].description
            let bob = setup.directory["bob"].description
            let first = try await Self.submit(client, setup.device, Self.request(user: alice))
            #expect(first.json["status"] as? String == "pending")
            let id = try #require(first.json["id"] as? String)

            let approved = try await Self.approve(
                client, setup, id, #"{"comment":"for finance","scope":"group","group":"\#(setup.directory["finance"])","duration_minutes":60}"#
            )
            #expect(approved.status == .ok, "\(approved.json)")
            #expect(approved.json["status"] as? String == "approved")
            let hints = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: setup.world.msp)
            #expect(hints.filter { $0.event == .decision }.count == 1)

            // Alice (in finance through financeAdmins) on another computer: allowed at once, audited as such.
            let again = try await Self.submit(client, ws2, Self.request(user: alice))
            #expect(again.status == .created)
            #expect(again.json["status"] as? String == "allowed")
            let explanation = try #require(again.json["explanation"] as? String)
            #expect(explanation.hasPrefix("standing approval"), "\(explanation)")
            #expect(explanation.contains("(group)"))
            // Bob is not in finance; another SHA-256 is another application.
            #expect(try await Self.submit(client, ws2, Self.request(user: bob)).json["status"] as? String == "pending")
            let other = Self.request(user: alice, sha256: String(repeating: "cd", count: 32))
            #expect(try await Self.submit(client, ws2, other).json["status"] as? String == "pending")

            let actions = try await RequestTests.actions(client, setup)
            #expect(actions.contains("standing_approval.created"))
            #expect(actions.filter { $0 == "request.allowed" }.count == 1)
            let log = try await client.call(.get, "/v1/tenants/\(setup.tenant)/audit-events?limit=200", key: setup.key)
            let created = try #require(log.items.first { $0["action"] as? String == "standing_approval.created" })
            #expect("\(created)".contains(setup.directory["finance"].description))

            // The same service with its clock moved on: within the hour still allowed, past it pending again.
            let device = try #require(DeviceID(ws2.id))
            let submission = RequestService.Submission(
                kind: .runAsAdmin, user: DeviceUser(sid: nil, guid: setup.directory["alice"], upn: nil),
                application: .init(
                    fileName: "VPNSetup.exe", path: #"C:\Users\x\Downloads\VPNSetup.exe"#, sha256: Self.sha, vendor: "Contoso"
                ),
                reason: "customer visit"
            )
            for (minutes, expected) in [(59, StoredRequest.Status.allowed), (61, .pending)] {
                let status = try await TestApp.withService { database in
                    let service = RequestService(
                        database: database, approverEmails: nil, now: { Date().addingTimeInterval(Double(minutes) * 60) }
                    )
                    return try await service.submit(
                        submission, from: device, of: setup.tenant, msp: setup.world.msp, logger: TestApp.logger
                    ).status
                }
                #expect(status == expected, "after \(minutes) minutes")
            }
        }
    }

    @Test("user on computer and tenant scopes reach exactly whom they name")
    func userAndTenantScopes() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let ws2 = try await Self.enrollSecond(client, setup)
            let alice = setup.directory["alice"].description
            let bob = setup.directory["bob"].description

            let first = try await Self.submit(client, setup.device, Self.request(user: alice))
            let id = try #require(first.json["id"] as? String)
            let approved = try await Self.approve(client, setup, id, #"{"scope":"user_on_computer","duration_minutes":30}"#)
            #expect(approved.status == .ok, "\(approved.json)")
            #expect(try await Self.submit(client, setup.device, Self.request(user: alice)).json["status"] as? String == "allowed")
            #expect(try await Self.submit(client, ws2, Self.request(user: alice)).json["status"] as? String == "pending")
            #expect(try await Self.submit(client, setup.device, Self.request(user: bob)).json["status"] as? String == "pending")

            // A tenant-wide approval covers everyone, a user the directory does not know included.
            let bobs = try await Self.submit(client, ws2, Self.request(user: bob, sha256: String(repeating: "ef", count: 32)))
            let bobsID = try #require(bobs.json["id"] as? String)
            let tenantWide = try await Self.approve(client, setup, bobsID, #"{"scope":"tenant","duration_minutes":5}"#)
            #expect(tenantWide.status == .ok, "\(tenantWide.json)")
            let stranger = Self.request(user: "nobody@example.test", sha256: String(repeating: "ef", count: 32))
            #expect(try await Self.submit(client, setup.device, stranger).json["status"] as? String == "allowed")
            // Another tenant's request for the same application is not covered.
            let elsewhere = try await RequestTests.setUp(client)
            #expect(try await Self.submit(client, elsewhere.device, stranger).json["status"] as? String == "pending")
        }
    }

    struct Refused: Sendable, CustomTestStringConvertible {
        var label: String
        var body: String
        var status: Int = 422
        var field: String?
        var testDescription: String { label }
    }

    /// `{group}` stands for the finance group, `{helpdesk}` for a group alice is not in, `{subsetting}` for an id
    /// the tenant does not have.
    static let refusals: [Refused] = [
        Refused(label: "a duration without a scope", body: #"{"duration_minutes":30}"#, field: "/duration_minutes"),
        Refused(label: "the request scope with a duration", body: #"{"scope":"request","duration_minutes":30}"#, field: "/duration_minutes"),
        Refused(label: "a scope without a duration", body: #"{"scope":"tenant"}"#, field: "/duration_minutes"),
        Refused(label: "a duration of 0", body: #"{"scope":"tenant","duration_minutes":0}"#, field: "/duration_minutes"),
        Refused(label: "a duration over 30 days", body: #"{"scope":"tenant","duration_minutes":43201}"#, field: "/duration_minutes"),
        Refused(label: "the group scope without a group", body: #"{"scope":"group","duration_minutes":30}"#, field: "/group"),
        Refused(label: "a group with another scope", body: #"{"scope":"tenant","group":"{group}","duration_minutes":30}"#, field: "/group"),
        Refused(label: "a group that is no objectGUID", body: #"{"scope":"group","group":"finance","duration_minutes":30}"#, field: "/group"),
        Refused(label: "a group the user is not in", body: #"{"scope":"group","group":"{helpdesk}","duration_minutes":30}"#, field: "/group"),
        Refused(label: "an unknown scope", body: #"{"scope":"everyone","duration_minutes":30}"#, status: 400),
        Refused(label: "a pre-approval of a subsetting without its id", body: #"{"add_to_pre_approved":{"target":"subsetting","protection":{"type":"none"}}}"#, field: "/add_to_pre_approved/subsetting"),
        Refused(label: "a pre-approval of a subsetting the tenant lacks", body: #"{"add_to_pre_approved":{"target":"subsetting","subsetting":"{subsetting}","protection":{"type":"none"}}}"#, field: "/add_to_pre_approved/subsetting"),
        Refused(label: "a subsetting with the settings target", body: #"{"add_to_pre_approved":{"target":"settings","subsetting":"{subsetting}","protection":{"type":"none"}}}"#, field: "/add_to_pre_approved/subsetting"),
        Refused(label: "a malformed SHA-256 protection", body: #"{"add_to_pre_approved":{"target":"settings","protection":{"type":"checksum","sha256":"abc"}}}"#, field: "/add_to_pre_approved/protection/sha256"),
        Refused(label: "an escaping location", body: #"{"add_to_pre_approved":{"target":"settings","protection":{"type":"path","path":"%ProgramFiles%\\..\\Users"}}}"#, field: "/add_to_pre_approved/protection/path"),
        Refused(label: "a file name with a path", body: #"{"add_to_pre_approved":{"target":"settings","file_name":"..\\x.exe","protection":{"type":"none"}}}"#, field: "/add_to_pre_approved/file_name"),
    ]

    @Test("approval options that do not fit are refused with the member at fault, and change nothing", arguments: refusals)
    func refused(_ example: Refused) async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let submitted = try await Self.submit(client, setup.device, Self.request(user: setup.directory["alice"].description))
            let id = try #require(submitted.json["id"] as? String)
            let body = example.body
                .replacingOccurrences(of: "{group}", with: setup.directory["finance"].description)
                .replacingOccurrences(of: "{helpdesk}", with: setup.directory["helpdesk"].description)
                .replacingOccurrences(of: "{subsetting}", with: UUID().uuidString.lowercased())
            let settingsBefore = try await client.call(.get, "/v1/tenants/\(setup.tenant)/settings", key: setup.key)
            let answer = try await Self.approve(client, setup, id, body)
            expectProblem(answer, example.status, field: example.field)
            let still = try await client.call(.get, "/v1/tenants/\(setup.tenant)/requests/\(id)", key: setup.key)
            #expect(still.json["status"] as? String == "pending")
            let settingsAfter = try await client.call(.get, "/v1/tenants/\(setup.tenant)/settings", key: setup.key)
            #expect(settingsAfter.headers[.eTag] == settingsBefore.headers[.eTag])
            #expect(!(try await RequestTests.actions(client, setup)).contains("request.approved"))
        }
    }

    @Test("a scope needs what identifies the application: an admin session has none, a wide scope needs a SHA-256")
    func scopeNeedsIdentity() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let alice = setup.directory["alice"].description
            let session = try await Self.submit(
                client, setup.device, #"{"kind":"admin_session","user":{"guid":"\#(alice)"},"reason":"patching"}"#
            )
            let sessionID = try #require(session.json["id"] as? String)
            expectProblem(
                try await Self.approve(client, setup, sessionID, #"{"scope":"user_on_computer","duration_minutes":30}"#), 422,
                field: "/scope"
            )
            let unhashed = try await Self.submit(client, setup.device, Self.request(user: alice, sha256: nil))
            let unhashedID = try #require(unhashed.json["id"] as? String)
            for scope in ["tenant", "group\",\"group\":\"\(setup.directory["finance"])"] {
                expectProblem(
                    try await Self.approve(client, setup, unhashedID, #"{"scope":"\#(scope)","duration_minutes":30}"#), 422,
                    field: "/scope"
                )
            }
            // One user on one computer may be identified by the path, as the re-run cover does.
            let byPath = try await Self.approve(client, setup, unhashedID, #"{"scope":"user_on_computer","duration_minutes":30}"#)
            #expect(byPath.status == .ok, "\(byPath.json)")
            #expect(try await Self.submit(client, setup.device, Self.request(user: alice, sha256: nil)).json["status"] as? String == "allowed")
            // A decided request cannot be approved again, scope or not.
            expectProblem(try await Self.approve(client, setup, unhashedID, #"{"scope":"tenant","duration_minutes":30}"#), 409)
        }
    }

    @Test("approve into the global pre-approved list: one transaction, both audited, devices hinted, later runs pre-approved")
    func approveIntoSettings() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let alice = setup.directory["alice"].description
            let submitted = try await Self.submit(client, setup.device, Self.request(user: alice))
            let id = try #require(submitted.json["id"] as? String)
            let hintsBefore = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: setup.world.msp)

            // An approver may approve, but not edit policy.
            let approverKey = try #require(
                try await client.call(
                    .post, "/v1/tenants/\(setup.tenant)/api-keys", key: setup.key, body: #"{"name":"helpdesk","role":"approver"}"#
                ).json["secret"] as? String
            )
            let body = #"{"add_to_pre_approved":{"target":"settings","kind":"installer","protection":{"type":"checksum","sha256":"\#(Self.sha.uppercased())"}}}"#
            expectProblem(try await Self.approve(client, setup, id, body, key: approverKey), 403)

            let approved = try await Self.approve(client, setup, id, body)
            #expect(approved.status == .ok, "\(approved.json)")
            #expect(approved.json["status"] as? String == "approved")
            let settings = try await client.call(.get, "/v1/tenants/\(setup.tenant)/settings", key: setup.key)
            #expect(settings.headers[.eTag] == "\"v1\"")
            let entries = try #require(settings.json["pre_approved_applications"] as? [[String: any Sendable]])
            #expect(entries.count == 1)
            #expect(entries.first?["file_name"] as? String == "VPNSetup.exe")
            #expect(entries.first?["kind"] as? String == "installer")
            #expect(entries.first?["applies_to"] as? [String] == ["run_as_admin"])
            #expect((entries.first?["protection"] as? [String: any Sendable])?["sha256"] as? String == Self.sha)
            let actions = try await RequestTests.actions(client, setup)
            #expect(actions.contains("request.approved"))
            #expect(actions.contains("settings.replaced"))
            let hints = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: setup.world.msp)
            #expect(hints.count > hintsBefore.count)
            #expect(hints.contains { $0.event == .bundle })
            let rerun = try await Self.submit(client, setup.device, Self.request(user: setup.directory["bob"].description))
            #expect(rerun.json["status"] as? String == "allowed")
            #expect((rerun.json["explanation"] as? String)?.hasPrefix("pre-approved application VPNSetup.exe") == true)
        }
    }

    @Test("approve into a subsetting's list: a subsetting that inherited the global list gets it plus the entry")
    func approveIntoSubsetting() async throws {
        let global = #"""
            {"schema_version":1,"pre_approved_applications":[{"file_name":"notepad.exe","kind":"application",
              "applies_to":["run_as_admin"],"protection":{"type":"path","path":"%SystemRoot%\\System32"}}]}
            """#
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client, settings: global) { directory in
                [subsettingBody(name: "Finance", groups: [directory["finance"]], overrides: #"{"endpoint":{}}"#)]
            }
            let list = try await client.call(.get, "/v1/tenants/\(setup.tenant)/subsettings", key: setup.key)
            let subsetting = try #require(list.items.first?["id"] as? String)
            let submitted = try await Self.submit(client, setup.device, Self.request(user: setup.directory["alice"].description))
            let id = try #require(submitted.json["id"] as? String)
            let approved = try await Self.approve(
                client, setup, id,
                #"{"add_to_pre_approved":{"target":"subsetting","subsetting":"\#(subsetting)","protection":{"type":"certificate","vendor":"Contoso"}}}"#
            )
            #expect(approved.status == .ok, "\(approved.json)")
            let read = try await client.call(.get, "/v1/tenants/\(setup.tenant)/subsettings/\(subsetting)", key: setup.key)
            #expect(read.headers[.eTag] == "\"v2\"")
            let overrides = try #require(read.json["overrides"] as? [String: any Sendable])
            let entries = try #require(overrides["pre_approved_applications"] as? [[String: any Sendable]])
            #expect(entries.compactMap { $0["file_name"] as? String } == ["notepad.exe", "VPNSetup.exe"])
            #expect(try await RequestTests.actions(client, setup).contains("subsetting.updated"))
            // The global list is unchanged.
            let settings = try await client.call(.get, "/v1/tenants/\(setup.tenant)/settings", key: setup.key)
            #expect((settings.json["pre_approved_applications"] as? [any Sendable])?.count == 1)
        }
    }

    @Test("approve into an assigned baseline's library: MSP-wide admins only, audited on both chains, devices hinted")
    func approveIntoBaseline() async throws {
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client)
            let world = setup.world
            let base = "/v1/msps/\(world.msp)/baselines"
            func create(_ name: String, in msp: MSPID, key: String) async throws -> String {
                let body = BaselineAPITests.baselineBody(name: name, settings: "{}")
                let created = try await client.call(.post, "/v1/msps/\(msp)/baselines", key: key, body: body)
                return try #require(created.json["id"] as? String, "\(created.json)")
            }
            let assigned = try await create("Standard", in: world.msp, key: world.mspKey)
            let unassigned = try await create("Spare", in: world.msp, key: world.mspKey)
            let other = try await TestApp.makeWorld(tenants: 1)
            let theirs = try await create("Theirs", in: other.msp, key: other.mspKey)
            let assignment = BaselineAPITests.assignment([assigned])
            let put = try await client.call(.put, "/v1/tenants/\(setup.tenant)/baselines", key: world.mspKey, body: assignment)
            try #require(put.status == .ok, "\(put.json)")
            let submitted = try await Self.submit(client, setup.device, Self.request(user: setup.directory["alice"].description))
            let id = try #require(submitted.json["id"] as? String)
            func body(_ baseline: String, target: String = "baseline") -> String {
                #"{"add_to_pre_approved":{"target":"\#(target)","baseline":"\#(baseline)","protection":{"type":"checksum","sha256":"\#(Self.sha)"}}}"#
            }
            // The tenant's own owner key edits the tenant's policy, never the MSP's baseline.
            expectProblem(try await Self.approve(client, setup, id, body(assigned)), 403)
            for refused in [unassigned, theirs, UUID().uuidString] {
                expectProblem(
                    try await Self.approve(client, setup, id, body(refused), key: world.mspKey), 422,
                    field: "/add_to_pre_approved/baseline"
                )
            }
            expectProblem(
                try await Self.approve(client, setup, id, body(assigned, target: "settings"), key: world.mspKey), 422,
                field: "/add_to_pre_approved/baseline"
            )
            expectProblem(
                try await Self.approve(client, setup, id, #"{"add_to_pre_approved":{"target":"baseline","protection":{"type":"none"}}}"#, key: world.mspKey),
                422, field: "/add_to_pre_approved/baseline"
            )
            #expect(try await client.call(.get, "\(base)/\(assigned)", key: world.mspKey).headers[.eTag] == "\"v1\"")
            let hintsBefore = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: world.msp)

            let approved = try await Self.approve(client, setup, id, body(assigned), key: world.mspKey)
            #expect(approved.status == .ok, "\(approved.json)")
            #expect(approved.json["status"] as? String == "approved")
            let read = try await client.call(.get, "\(base)/\(assigned)", key: world.mspKey)
            #expect(read.headers[.eTag] == "\"v2\"")
            let library = try #require(read.json["pre_approved_applications"] as? [[String: any Sendable]])
            #expect(library.compactMap { $0["file_name"] as? String } == ["VPNSetup.exe"])
            let actions = try await RequestTests.actions(client, setup)
            #expect(actions.contains("request.approved") && actions.contains("baseline.applied"))
            let mspLog = try await client.call(.get, "/v1/msps/\(world.msp)/audit-events?limit=50", key: world.mspKey)
            let added = try #require(mspLog.items.first { $0["action"] as? String == "baseline.library.added" })
            #expect(added["before"] != nil && added["after"] != nil)
            let hints = try await EndpointTests.hints(for: setup.device, in: setup.tenant, msp: world.msp)
            #expect(hints.count > hintsBefore.count && hints.contains { $0.event == .bundle })
            let rerun = try await Self.submit(client, setup.device, Self.request(user: setup.directory["bob"].description))
            #expect(rerun.json["status"] as? String == "allowed")
        }
    }

    @Test("reason and approval: no reason is a 422 naming /reason, a reason waits; bundles carry approval_required")
    func reasonAndApproval() async throws {
        let settings = #"""
            {"schema_version":1,"run_as_admin":{"mode":"reason_and_approval_required"},
             "pre_approved_applications":[
               {"kind":"application","applies_to":["run_as_admin"],"protection":{"type":"certificate","vendor":"Fabrikam"}},
               {"file_name":"tool.exe","kind":"application","applies_to":["run_as_admin"],
                "protection":{"type":"path","path":"%ProgramFiles%\\Fabrikam"}},
               {"file_name":"old.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"none"}}]}
            """#
        try await TestApp.run(TestApp.sealingConfig) { client in
            let setup = try await RequestTests.setUp(client, settings: settings)
            let alice = setup.directory["alice"].description
            let read = try await client.call(.get, "/v1/tenants/\(setup.tenant)/settings", key: setup.key)
            #expect((read.json["run_as_admin"] as? [String: any Sendable])?["mode"] as? String == "reason_and_approval_required")

            expectProblem(try await Self.submit(client, setup.device, Self.request(user: alice, reason: nil)), 422, field: "/reason")
            let pending = try await Self.submit(client, setup.device, Self.request(user: alice))
            #expect(pending.json["status"] as? String == "pending")
            #expect(pending.json["explanation"] as? String == "mode reason_and_approval_required")

            // The signer's entry without a file name, and the location with a variable, match online.
            let signed = #"{"kind":"run_as_admin","user":{"guid":"\#(alice)"},"application":{"file_name":"any.msi","vendor":"fabrikam"}}"#
            #expect(try await Self.submit(client, setup.device, signed).json["status"] as? String == "allowed")
            let located = #"""
                {"kind":"run_as_admin","user":{"guid":"\#(alice)"},"application":{"file_name":"tool.exe",
                 "path":"C:\\Program Files\\Fabrikam\\bin\\tool.exe"}}
                """#
            #expect(try await Self.submit(client, setup.device, located).json["status"] as? String == "allowed")

            let fetched = try await setup.device.fetch(client)
            #expect(fetched.status == 200)
            let bundle = try setup.device.verifier().verify(fetched.body, now: Date())
            let computer = try #require(bundle.claims.policy.computerSettings)
            #expect(computer["run_as_admin"]?["mode"]?.stringValue == "approval_required")
            // Only the entry bundle format 1 agents read as the service does travels.
            let carried = computer["pre_approved_applications"]?.arrayValue ?? []
            #expect(carried.compactMap { $0["file_name"]?.stringValue } == ["old.exe"])
        }
    }
}
