import CharterBundle
import CharterCore
import CharterJSON
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Baselines through the admin API (docs/baselines.md): the MSP's documents, their assignment to tenants, the
/// combined policy, the drift view, and the hints a baseline change sends.
@Suite("Baselines API")
struct BaselineAPITests {
    static func baselineBody(
        name: String = "Standard", settings: String = #"{"run_as_admin":{"mode":"audit_only"}}"#,
        subsettings: String = "[]", library: String = "[]"
    ) -> String {
        #"{"schema_version":1,"name":"\#(name)","settings":\#(settings),"subsettings":\#(subsettings),"pre_approved_applications":\#(library)}"#
    }

    static func assignment(_ ids: [String]) -> String {
        #"{"ids":[\#(ids.map { "\"\($0)\"" }.joined(separator: ","))]}"#
    }

    /// The sample directory of docs/policy.md with the names a sync stores: sAMAccountNames of groups, the OUs'
    /// DNs under `DC=example,DC=test` (the connection's base DN), and Domain Users' SID.
    static func storeNamedDirectory(in tenant: TenantID, msp: MSPID) async throws -> PolicyDirectory {
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: msp)
        let dns = [
            "ou:corp": "OU=corp,DC=example,DC=test", "ou:staff": "OU=staff,OU=corp,DC=example,DC=test",
            "ou:finance": "OU=finance,OU=staff,OU=corp,DC=example,DC=test",
            "ou:workstations": "OU=workstations,OU=corp,DC=example,DC=test",
            "ou:servers": "OU=servers,OU=corp,DC=example,DC=test",
        ]
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    UPDATE directory_objects SET sam_account_name = name
                    WHERE tenant_id = \(tenant.rawValue) AND kind = 'group'
                    """
                )
                try await tx.query(
                    """
                    UPDATE directory_objects SET sid = 'S-1-5-21-1-2-3-513'
                    WHERE tenant_id = \(tenant.rawValue) AND guid = \(directory["domainUsers"].rawValue)
                    """
                )
                for (name, dn) in dns {
                    try await tx.query(
                        """
                        UPDATE directory_objects SET dn = \(dn)
                        WHERE tenant_id = \(tenant.rawValue) AND guid = \(directory[name].rawValue)
                        """
                    )
                }
            }
        }
        return directory
    }

    @Test("an MSP's baselines: create, read, list, replace with If-Match, strict 422s, unique names, delete")
    func lifecycle() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let base = "/v1/msps/\(world.msp)/baselines"
        try await TestApp.run { client in
            let created = try await client.call(.post, base, key: world.mspKey, body: Self.baselineBody())
            #expect(created.status == .created, "\(created.json)")
            #expect(created.headers[.eTag] == "\"v1\"")
            let id = try #require(created.json["id"] as? String)
            #expect((created.json["settings"] as? [String: any Sendable])?["run_as_admin"] != nil)
            #expect((created.json["subsettings"] as? [any Sendable])?.isEmpty == true)

            let read = try await client.call(.get, "\(base)/\(id)", key: world.mspKey)
            #expect(read.status == .ok && read.json["name"] as? String == "Standard")
            #expect(try await client.call(.get, base, key: world.mspKey).items.count == 1)

            let renamed = Self.baselineBody(name: "Standard v2")
            let stale = try await client.call(.put, "\(base)/\(id)", key: world.mspKey, body: renamed, headers: [.ifMatch: "\"v7\""])
            expectProblem(stale, 412, field: "If-Match")
            let replaced = try await client.call(.put, "\(base)/\(id)", key: world.mspKey, body: renamed, headers: [.ifMatch: "\"v1\""])
            #expect(replaced.status == .ok && replaced.headers[.eTag] == "\"v2\"")

            let invalid = Self.baselineBody(
                settings: #"{"run_as_admin":{"mode":"always"},"pre_approved_applications":[]}"#,
                subsettings: #"[{"name":"x","target":"user","scope":{"groups":["S-1-9"]},"overrides":{}}]"#
            )
            let refused = try await client.call(.post, base, key: world.mspKey, body: invalid)
            expectProblem(refused, 422)
            let pointers = ((refused.json["errors"] as? [[String: any Sendable]]) ?? []).compactMap { $0["pointer"] as? String }
            #expect(Set(pointers).isSuperset(of: ["/settings/run_as_admin/mode", "/settings/pre_approved_applications", "/subsettings/0/scope/groups/0"]))
            expectProblem(try await client.call(.post, base, key: world.mspKey, body: renamed), 409, field: "/name")
            expectProblem(try await client.call(.get, "\(base)/\(UUID())", key: world.mspKey), 404)

            #expect(try await client.call(.delete, "\(base)/\(id)", key: world.mspKey, headers: [.ifMatch: "\"v2\""]).status == .noContent)
            expectProblem(try await client.call(.get, "\(base)/\(id)", key: world.mspKey), 404)
        }
    }

    @Test("adding one application to a baseline's library is a versioned, audited edit; a repeat is refused")
    func addToLibrary() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let caller = Caller.system(logger: TestApp.logger)
        let entry = try BaselineDocuments.libraryEntry(
            from: Data(
                #"{"file_name":"tool.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"path","path":"C:\\Program Files\\Tool"}}"#
                    .utf8
            )
        )
        try await TestApp.withService { database in
            let service = BaselineService(database: database)
            let created = try await service.createBaseline(
                of: world.msp, from: Data(Self.baselineBody(settings: "{}").utf8), by: caller
            )
            let id = created.baseline.id
            _ = try await service.assign([id], to: tenant, msp: world.msp, by: caller)
            await #expect(throws: StoreError.versionMismatch(current: 1)) {
                try await service.addToLibrary(entry, of: id, msp: world.msp, expectedVersion: 5, by: caller)
            }
            let added = try await service.addToLibrary(entry, of: id, msp: world.msp, expectedVersion: 1, by: caller)
            // The stored entry is the one added, with the id a library gives an entry that has none.
            let stored = Settings.PreApprovedApplication.withIDs([entry])
            #expect(added.version == 2 && added.baseline.library == stored)
            #expect(stored.allSatisfy { $0.id != nil })
            await #expect(throws: BaselineError.self) {
                try await service.addToLibrary(entry, of: id, msp: world.msp, expectedVersion: nil, by: caller)
            }
            let composition = try await service.drift(of: tenant, msp: world.msp, by: caller)
            #expect(composition.global.preApprovedApplications == stored)
            let events = try await database.withMSP(world.msp, logger: TestApp.logger) { tx in
                try await tx.audit.list(.msp(world.msp), before: nil, limit: 50)
            }
            #expect(events.contains { $0.record.action == "baseline.library.added" })
        }
    }

    @Test("a baseline's library one entry at a time: MSP-wide keys only, versioned, audited on both chains")
    func libraryEntries() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let other = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let entry = #"{"file_name":"tool.exe","kind":"application","applies_to":["run_as_admin"],"protection":{"type":"none"}}"#
        try await TestApp.run { client in
            let created = try await client.call(
                .post, "/v1/msps/\(world.msp)/baselines", key: world.mspKey, body: Self.baselineBody(library: "[\(entry)]")
            )
            let id = try #require(created.json["id"] as? String, "\(created.json)")
            let assigned = try await client.call(.put, "/v1/tenants/\(tenant)/baselines", key: world.mspKey, body: Self.assignment([id]))
            try #require(assigned.status == .ok)
            let path = "/v1/msps/\(world.msp)/baselines/\(id)/pre-approved-applications"
            let listed = try await client.call(.get, path, key: world.mspKey)
            #expect(listed.status == .ok && listed.headers[.eTag] == "\"v1\"")
            let first = try #require(listed.items.first?["id"] as? String)
            #expect(listed.json["inherited"] == nil)
            expectProblem(try await client.call(.get, path, key: world.tenantKeys[0]), 403)
            expectProblem(try await client.call(.post, path, key: world.tenantKeys[0], body: entry), 403)
            expectProblem(try await client.call(.get, path, key: other.mspKey), 404)
            expectProblem(try await client.call(.get, "/v1/msps/\(world.msp)/baselines/\(UUID())/pre-approved-applications", key: world.mspKey), 404)

            let signed = #"{"kind":"application","applies_to":["run_as_admin"],"protection":{"type":"certificate","vendor":"Contoso"}}"#
            let added = try await client.call(.post, path, key: world.mspKey, body: signed, headers: [.ifMatch: "\"v1\""])
            #expect(added.status == .created && added.headers[.eTag] == "\"v2\"", "\(added.json)")
            let addedID = try #require(added.json["id"] as? String)
            expectProblem(try await client.call(.post, path, key: world.mspKey, body: signed, headers: [.ifMatch: "\"v1\""]), 412)
            let invalid = #"{"file_name":"a.exe","kind":"application","applies_to":[],"protection":{"type":"none"}}"#
            expectProblem(try await client.call(.post, path, key: world.mspKey, body: invalid), 422, field: "/applies_to")
            let replaced = try await client.call(.put, "\(path)/\(first)", key: world.mspKey, body: entry.replacingOccurrences(of: "tool.exe", with: "tool2.exe"))
            #expect(replaced.status == .ok && replaced.json["file_name"] as? String == "tool2.exe", "\(replaced.json)")
            #expect(try await client.call(.get, "\(path)/\(addedID)", key: world.mspKey).status == .ok)
            #expect(try await client.call(.delete, "\(path)/\(addedID)", key: world.mspKey).status == .noContent)
            expectProblem(try await client.call(.delete, "\(path)/\(addedID)", key: world.mspKey), 404, field: "entry")

            let baseline = try await client.call(.get, "/v1/msps/\(world.msp)/baselines/\(id)", key: world.mspKey)
            #expect(baseline.headers[.eTag] == "\"v4\"")
            let library = try #require(baseline.json["pre_approved_applications"] as? [[String: any Sendable]])
            #expect(library.compactMap { $0["file_name"] as? String } == ["tool2.exe"])
            let mspLog = try await client.call(.get, "/v1/msps/\(world.msp)/audit-events?limit=50", key: world.mspKey)
            let updates = mspLog.items.filter { $0["action"] as? String == "baseline.updated" }
            #expect(updates.count == 3 && updates.allSatisfy { $0["before"] != nil && $0["after"] != nil })
            let tenantLog = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?limit=50", key: world.tenantKeys[0])
            #expect(tenantLog.items.filter { $0["action"] as? String == "baseline.applied" }.count == 3)
        }
    }

    @Test("only MSP-wide keys manage baselines and assignment; a tenant reads its own; nothing crosses MSPs")
    func rolesAndIsolation() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let other = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run { client in
            let base = "/v1/msps/\(world.msp)/baselines"
            let created = try await client.call(.post, base, key: world.mspKey, body: Self.baselineBody())
            let id = try #require(created.json["id"] as? String)
            let theirs = try await client.call(
                .post, "/v1/msps/\(other.msp)/baselines", key: other.mspKey, body: Self.baselineBody(name: "Theirs")
            )
            let theirID = try #require(theirs.json["id"] as? String)

            // A tenant's key: no MSP baseline routes, no assignment; reading its own assignment is fine.
            expectProblem(try await client.call(.get, base, key: world.tenantKeys[0]), 403)
            expectProblem(try await client.call(.post, base, key: world.tenantKeys[0], body: Self.baselineBody(name: "T")), 403)
            let tenantBaselines = "/v1/tenants/\(tenant)/baselines"
            expectProblem(try await client.call(.put, tenantBaselines, key: world.tenantKeys[0], body: Self.assignment([id])), 403)
            // Another MSP: its key cannot see these baselines or this tenant, nor assign its baseline here.
            expectProblem(try await client.call(.get, "\(base)/\(id)", key: other.mspKey), 404)
            expectProblem(try await client.call(.put, tenantBaselines, key: other.mspKey, body: Self.assignment([theirID])), 404)
            // An MSP's key cannot assign another MSP's baseline to its tenant, nor one twice.
            expectProblem(
                try await client.call(.put, tenantBaselines, key: world.mspKey, body: Self.assignment([id, theirID])), 422,
                field: "/ids/1"
            )
            expectProblem(
                try await client.call(.put, tenantBaselines, key: world.mspKey, body: Self.assignment([id, id])), 422,
                field: "/ids/1"
            )
            // More than a tenant may have: refused before any id is looked up.
            let tooMany = (0...Baseline.maximumAssigned).map { _ in UUID().uuidString.lowercased() }
            expectProblem(
                try await client.call(.put, tenantBaselines, key: world.mspKey, body: Self.assignment(tooMany)), 422,
                field: "/ids"
            )

            let assigned = try await client.call(.put, tenantBaselines, key: world.mspKey, body: Self.assignment([id]))
            #expect(assigned.status == .ok && assigned.json["ids"] as? [String] == [id], "\(assigned.json)")
            let read = try await client.call(.get, tenantBaselines, key: world.tenantKeys[0])
            #expect(read.json["ids"] as? [String] == [id] && read.items.first?["name"] as? String == "Standard")
            // The other tenant of the same MSP neither has it nor sees this tenant's.
            let second = try await client.call(.get, "/v1/tenants/\(world.tenants[1])/baselines", key: world.tenantKeys[1])
            #expect(second.status == .ok && (second.json["ids"] as? [String])?.isEmpty == true)
            expectProblem(try await client.call(.get, tenantBaselines, key: world.tenantKeys[1]), 404)

            // Assigned: deleting is refused until it is unassigned.
            expectProblem(try await client.call(.delete, "\(base)/\(id)", key: world.mspKey), 409)
            #expect(try await client.call(.put, tenantBaselines, key: world.mspKey, body: Self.assignment([])).status == .ok)
            #expect(try await client.call(.delete, "\(base)/\(id)", key: world.mspKey).status == .noContent)
        }
    }

    @Test("the effective policy and the drift view name where each section came from")
    func explanationAndDrift() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let directory = try await Self.storeNamedDirectory(in: tenant, msp: world.msp)
        try await TestApp.run { client in
            let subsettings = #"""
                [{"name":"Workstations","target":"computer","scope":{"ous":["OU=workstations,OU=corp"],"groups":["Contractors"]},
                  "overrides":{"endpoint":{"offline_grace_period_hours":12}}},
                 {"name":"Ghosts","target":"user","scope":{"groups":["-512"]},"overrides":{"run_as_admin":{"mode":"disabled"}}}]
                """#
            let created = try await client.call(
                .post, "/v1/msps/\(world.msp)/baselines", key: world.mspKey,
                body: Self.baselineBody(subsettings: subsettings)
            )
            let id = try #require(created.json["id"] as? String, "\(created.json)")
            let assigned = try await client.call(
                .put, "/v1/tenants/\(tenant)/baselines", key: world.mspKey, body: Self.assignment([id])
            )
            #expect(assigned.status == .ok)

            func sections(computer: ObjectGUID) async throws -> ([String: [String: any Sendable]], [[String: any Sendable]]) {
                let answer = try await client.call(
                    .get, "/v1/tenants/\(tenant)/effective-policy?computer=\(computer)", key: world.tenantKeys[0]
                )
                #expect(answer.status == .ok, "\(answer.json)")
                let explanation = answer.json["explanation"] as? [String: any Sendable] ?? [:]
                let list = explanation["sections"] as? [[String: any Sendable]] ?? []
                let unresolved = explanation["unresolved_scopes"] as? [[String: any Sendable]] ?? []
                return (
                    Dictionary(uniqueKeysWithValues: list.compactMap { entry in (entry["section"] as? String).map { ($0, entry) } }),
                    unresolved
                )
            }
            let (ws1, unresolved) = try await sections(computer: directory["ws1"])
            #expect(ws1["run_as_admin"]?["kind"] as? String == "baseline")
            #expect(ws1["run_as_admin"]?["baseline_id"] as? String == id)
            #expect(ws1["endpoint"]?["kind"] as? String == "subsetting")
            #expect(ws1["endpoint"]?["baseline_id"] as? String == id)
            #expect(ws1["approval"]?["kind"] as? String == "defaults")
            #expect(unresolved.map { $0["groups"] as? [String] } == [["Contractors"], ["-512"]])
            // JSONSerialization's booleans arrive as numbers (SendableJSON).
            #expect(unresolved.map { $0["matches_nobody"] as? Double } == [0, 1])
            let (srv1, _) = try await sections(computer: directory["srv1"])
            #expect(srv1["endpoint"]?["kind"] as? String == "defaults")

            // The tenant sets run_as_admin itself: it wins, and the drift view shows both values.
            let settings = #"{"schema_version":1,"run_as_admin":{"mode":"reason_required"}}"#
            #expect(try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: world.tenantKeys[0], body: settings).status == .ok)
            #expect(try await sections(computer: directory["ws1"]).0["run_as_admin"]?["kind"] as? String == "tenant")
            let drift = try await client.call(.get, "/v1/tenants/\(tenant)/baselines/drift", key: world.tenantKeys[0])
            #expect(drift.status == .ok, "\(drift.json)")
            let overrides = drift.json["overrides"] as? [[String: any Sendable]] ?? []
            #expect(overrides.count == 1)
            #expect(overrides.first?["section"] as? String == "run_as_admin")
            #expect((overrides.first?["tenant_value"] as? [String: any Sendable])?["mode"] as? String == "reason_required")
            #expect((overrides.first?["baseline_value"] as? [String: any Sendable])?["mode"] as? String == "audit_only")
            #expect((drift.json["unresolved_scopes"] as? [any Sendable])?.count == 2)
        }
    }

    /// Enrolls a device linked to the computer object named `computer` of the tenant's sample directory.
    static func enroll(
        _ client: some TestClientProtocol, token: String, computer: String, of tenant: TenantID, msp: MSPID
    ) async throws -> TestDevice {
        // The sample's GUIDs are fresh per tenant: look the computer up in this tenant's directory.
        let guids = try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                var found: [UUID] = []
                let rows = try await tx.query(
                    "SELECT guid FROM directory_objects WHERE tenant_id = \(tenant.rawValue) AND name = \(computer)"
                )
                for try await guid in rows.decode(UUID.self) { found.append(guid) }
                return found
            }
        }
        let guid = try #require(guids.first)
        var device = TestDevice()
        try await device.enroll(
            client, token: token, hostname: "\(computer).example.test",
            extra: #""computer_guid":"\#(guid.uuidString.lowercased())","#
        )
        return device
    }

    @Test("a baseline's global setting no subsetting overrides hints every device of each assigned tenant; one that changes nothing hints none")
    func globalChangeHintsEveryDevice() async throws {
        let world = try await TestApp.makeWorld(tenants: 3)
        for tenant in world.tenants {
            _ = try await Self.storeNamedDirectory(in: tenant, msp: world.msp)
        }
        try await TestApp.run(TestApp.sealingConfig) { client in
            var devices: [(device: TestDevice, tenant: TenantID)] = []
            for (index, tenant) in world.tenants.enumerated() {
                let token = try await EndpointTests.createToken(client, tenant: tenant, key: world.tenantKeys[index])
                for computer in index == 0 ? ["ws1", "srv1"] : ["ws1"] {
                    devices.append((try await Self.enroll(client, token: token.secret, computer: computer, of: tenant, msp: world.msp), tenant))
                }
            }
            let created = try await client.call(.post, "/v1/msps/\(world.msp)/baselines", key: world.mspKey, body: Self.baselineBody(settings: "{}"))
            let id = try #require(created.json["id"] as? String)
            for tenant in world.tenants.prefix(2) {
                #expect(try await client.call(.put, "/v1/tenants/\(tenant)/baselines", key: world.mspKey, body: Self.assignment([id])).status == .ok)
            }
            func hintCounts() async throws -> [Int] {
                var counts: [Int] = []
                for (device, tenant) in devices {
                    counts.append(try await EndpointTests.hints(for: device, in: tenant, msp: world.msp).count)
                }
                return counts
            }
            let before = try await hintCounts()
            let grace = Self.baselineBody(settings: #"{"endpoint":{"offline_grace_period_hours":12}}"#)
            #expect(try await client.call(.put, "/v1/msps/\(world.msp)/baselines/\(id)", key: world.mspKey, body: grace).status == .ok)
            let changed = try await hintCounts()
            #expect(zip(changed, before).map { $0 - $1 } == [1, 1, 1, 0], "every device of the assigned tenants, none of the other")
            // The same setting again, under another name: no policy changes, no hint.
            let renamed = Self.baselineBody(name: "Renamed", settings: #"{"endpoint":{"offline_grace_period_hours":12}}"#)
            #expect(try await client.call(.put, "/v1/msps/\(world.msp)/baselines/\(id)", key: world.mspKey, body: renamed).status == .ok)
            #expect(try await hintCounts() == changed)
            let fetched = try await devices[1].device.fetch(client)
            let verified = try devices[1].device.verifier().verify(fetched.body, now: Date())
            #expect(verified.claims.policy.computerSettings?["endpoint"]?["offline_grace_period_hours"]?.integerValue == 12)
        }
    }

    @Test("a baseline change hints the affected devices of every assigned tenant, and none of a tenant without it")
    func hintsReachAssignedTenants() async throws {
        let world = try await TestApp.makeWorld(tenants: 3)
        for tenant in world.tenants {
            _ = try await Self.storeNamedDirectory(in: tenant, msp: world.msp)
        }
        try await TestApp.run(TestApp.sealingConfig) { client in
            var devices: [TestDevice] = []
            var server = TestDevice()
            for (index, tenant) in world.tenants.enumerated() {
                let token = try await EndpointTests.createToken(client, tenant: tenant, key: world.tenantKeys[index])
                devices.append(try await Self.enroll(client, token: token.secret, computer: "ws1", of: tenant, msp: world.msp))
                if index == 0 {
                    server = try await Self.enroll(client, token: token.secret, computer: "srv1", of: tenant, msp: world.msp)
                }
            }
            func graceHours(_ device: TestDevice) async throws -> Int64? {
                let fetched = try await device.fetch(client)
                let verified = try device.verifier().verify(fetched.body, now: Date())
                return verified.claims.policy.computerSettings?["endpoint"]?["offline_grace_period_hours"]?.integerValue
            }
            let workstations = { (hours: Int) in
                Self.baselineBody(
                    settings: "{}",
                    subsettings: #"[{"name":"Workstations","target":"computer","scope":{"ous":["OU=workstations,OU=corp"]},"overrides":{"endpoint":{"offline_grace_period_hours":\#(hours)}}}]"#
                )
            }
            let created = try await client.call(.post, "/v1/msps/\(world.msp)/baselines", key: world.mspKey, body: workstations(24))
            let id = try #require(created.json["id"] as? String)
            for tenant in world.tenants.prefix(2) {
                let answer = try await client.call(.put, "/v1/tenants/\(tenant)/baselines", key: world.mspKey, body: Self.assignment([id]))
                #expect(answer.status == .ok)
            }
            var before: [Int] = []
            for (index, device) in devices.enumerated() {
                before.append(try await EndpointTests.hints(for: device, in: world.tenants[index], msp: world.msp).count)
            }
            let serverBefore = try await EndpointTests.hints(for: server, in: world.tenants[0], msp: world.msp).count
            // Each device's own event stream (its long-poll form), from where it stands now.
            func poll(_ device: TestDevice, after: Int64) async throws -> (events: [String], last: Int64) {
                let answer = try await client.call(
                    .get, "/v1/agent/events?wait=0&last_event_id=\(after)", key: device.token,
                    headers: [.accept: "application/json"]
                )
                #expect(answer.status == .ok)
                let events = (answer.json["events"] as? [[String: any Sendable]] ?? []).map { "\($0["event"] ?? "")" }
                return (events, Int64(answer.json["last_event_id"] as? String ?? "") ?? -1)
            }
            var positions: [Int64] = []
            for device in devices + [server] { positions.append(try await poll(device, after: 0).last) }
            let edited = try await client.call(
                .put, "/v1/msps/\(world.msp)/baselines/\(id)", key: world.mspKey, body: workstations(12)
            )
            #expect(edited.status == .ok, "\(edited.json)")
            var after: [Int] = []
            for (index, device) in devices.enumerated() {
                after.append(try await EndpointTests.hints(for: device, in: world.tenants[index], msp: world.msp).count)
            }
            #expect(after[0] == before[0] + 1 && after[1] == before[1] + 1, "one hint per assigned tenant's device")
            #expect(after[2] == before[2], "a tenant without the baseline hears nothing")
            let serverAfter = try await EndpointTests.hints(for: server, in: world.tenants[0], msp: world.msp).count
            #expect(serverAfter == serverBefore, "a device outside the changed subsetting's scope is not hinted")
            var streamed: [[String]] = []
            for (device, position) in zip(devices + [server], positions) {
                streamed.append(try await poll(device, after: position).events)
            }
            #expect(streamed == [["bundle"], ["bundle"], [], []], "the streams of the assigned tenants' affected devices")
            #expect(try await graceHours(devices[0]) == 12)
            #expect(try await graceHours(devices[1]) == 12)
            #expect(try await graceHours(devices[2]) == 72)

            // Each assigned tenant's audit log says why its policy changed.
            let audit = try await client.call(
                .get, "/v1/tenants/\(world.tenants[1])/audit-events?action=baseline.applied", key: world.tenantKeys[1]
            )
            #expect(audit.items.count == 1)
        }
        // The events the edit appended to each tenant's chain (in one batch) verify, as the periodic
        // verification and `charter audit verify` check them.
        try await TestApp.withService { database in
            let verifier = AuditChainVerifier(
                database: database, interval: .seconds(60), maximumEvents: 10_000, alarm: nil, logger: TestApp.logger
            )
            for tenant in world.tenants {
                guard case .verified = try await verifier.verify(tenant, msp: world.msp) else {
                    Issue.record("the audit chain of \(tenant) does not verify")
                    continue
                }
                let verification = try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.audit.verify(.tenant(tenant))
                }
                #expect(verification.firstBreak == nil)
            }
        }
    }
}
