import CharterCore
@testable import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Elevation reports (`GET /v1/tenants/{tenant}/reports/elevations`, `GET /v1/msps/{msp}/reports/elevations`)
/// over requests submitted through the agent API and decided through the admin API.
@Suite("Elevation reports")
struct ElevationReportTests {
    static let sha = String(repeating: "ab", count: 32)

    static func application(_ user: ObjectGUID, file: String, sha256: String? = sha, signer: String = "CN=Contoso Ltd") -> String {
        let hash = sha256.map { #","sha256":"\#($0)""# } ?? ""
        return """
            {"kind":"run_as_admin","user":{"guid":"\(user)"},
             "application":{"file_name":"\(file)","path":"C:\\\\Temp\\\\\(file)"\(hash),"signer_subject":"\(signer)",
                            "vendor":"Contoso"}}
            """
    }

    static func adminSession(_ user: ObjectGUID) -> String {
        #"{"kind":"admin_session","user":{"guid":"\#(user)"},"reason":"printer driver"}"#
    }

    /// A tenant of `world` with the sample directory (alice named as a sync would) and an enrolled device.
    static func makeTenant(
        _ client: some TestClientProtocol, _ world: TestApp.World, index: Int
    ) async throws -> (directory: PolicyDirectory, device: TestDevice) {
        let tenant = world.tenants[index]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await InventoryTests.name(
            directory["alice"], sam: "alice", upn: "alice@example.test", display: "Alice Example", in: tenant, msp: world.msp
        )
        let token = try await EndpointTests.createToken(client, tenant: tenant, key: world.tenantKeys[index])
        var device = TestDevice()
        try await device.enroll(client, token: token.secret, hostname: "ws1")
        return (directory, device)
    }

    /// Submits a request through the agent API and, when asked, decides it through the admin API.
    @discardableResult
    static func submit(
        _ client: some TestClientProtocol, _ body: String, device: TestDevice, tenant: TenantID, key: String,
        decide: String? = nil
    ) async throws -> String {
        let answer = try await client.call(.post, "/v1/agent/requests", key: device.token, body: body)
        try #require(answer.status == .created, "\(answer.json)")
        let id = try #require(answer.json["id"] as? String)
        if let decide {
            let decided = try await client.call(.post, "/v1/tenants/\(tenant)/requests/\(id)/\(decide)", key: key, body: "{}")
            try #require(decided.status == .ok, "\(decided.json)")
        }
        return id
    }

    /// The sample requests of one tenant: VPNSetup.exe approved for alice, bob and carol, denied once for dave;
    /// `=2+3.exe` (a formula, for the CSV) denied for dave; an admin session for bob left pending.
    static func sampleRequests(
        _ client: some TestClientProtocol, _ world: TestApp.World, index: Int
    ) async throws -> PolicyDirectory {
        let (directory, device) = try await makeTenant(client, world, index: index)
        let tenant = world.tenants[index]
        let key = world.tenantKeys[index]
        for user in ["alice", "bob", "carol"] {
            try await submit(client, application(directory[user], file: "VPNSetup.exe"), device: device, tenant: tenant, key: key, decide: "approve")
        }
        // The same application under another spelling of its name is the same application.
        try await submit(client, application(directory["dave"], file: "vpnsetup.EXE"), device: device, tenant: tenant, key: key, decide: "deny")
        try await submit(
            client, application(directory["dave"], file: "=2+3.exe", sha256: String(repeating: "cd", count: 32), signer: "-evil"),
            device: device, tenant: tenant, key: key, decide: "deny"
        )
        try await submit(client, adminSession(directory["bob"]), device: device, tenant: tenant, key: key)
        return directory
    }

    /// RFC 4180 parsed back: rows of fields.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var characters = Array(text.unicodeScalars)[...]
        while let character = characters.popFirst() {
            if quoted {
                if character == "\"" {
                    if characters.first == "\"" {
                        field.unicodeScalars.append("\"")
                        characters.removeFirst()
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                row.append(field)
                field = ""
            } else if character == "\r" && characters.first == "\n" {
                characters.removeFirst()
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            } else {
                field.unicodeScalars.append(character)
            }
        }
        return rows
    }

    static func csv(
        _ client: some TestClientProtocol, _ uri: String, key: String, accept: String? = nil
    ) async throws -> (status: Int, contentType: String?, rows: [[String]]) {
        var headers: HTTPFields = [.authorization: "Bearer \(key)"]
        if let accept { headers[.accept] = accept }
        return try await client.execute(uri: uri, method: .get, headers: headers, body: nil) { response in
            (Int(response.status.code), response.headers[.contentType], parseCSV(String(buffer: response.body)))
        }
    }

    static func applications(_ answer: Answer) -> [[String: any Sendable]] {
        (answer.json["applications"] as? [[String: any Sendable]]) ?? []
    }

    @Test("a tenant's report by application, by user and as pre-approval candidates, as JSON")
    func tenantReport() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let directory = try await Self.sampleRequests(client, world, index: 0)
            let base = "/v1/tenants/\(tenant)/reports/elevations"

            let byApplication = try await client.call(.get, base, key: key)
            #expect(byApplication.status == .ok, "\(byApplication.json)")
            #expect(byApplication.json["group"] as? String == "application")
            #expect(byApplication.json["truncated"] as? Double == 0)
            #expect(byApplication.json["users"] == nil)
            let rows = Self.applications(byApplication)
            #expect(rows.count == 2)
            let vpn = try #require(rows.first)
            #expect(vpn["file_name"] as? String == "vpnsetup.EXE", "the most recent spelling")
            #expect(vpn["sha256"] as? String == Self.sha)
            #expect(vpn["signer_subject"] as? String == "CN=Contoso Ltd")
            #expect(vpn["vendor"] as? String == "Contoso")
            #expect(vpn["path"] as? String == "C:\\Temp\\vpnsetup.EXE")
            #expect(vpn["requests"] as? Double == 4)
            #expect(vpn["approved"] as? Double == 3)
            #expect(vpn["denied"] as? Double == 1)
            #expect(vpn["users"] as? Double == 4)
            #expect(vpn["devices"] as? Double == 1)
            #expect(vpn["tenants"] as? Double == 1)
            #expect(rows.last?["file_name"] as? String == "=2+3.exe")

            let candidates = try await client.call(.get, "\(base)?group=candidates&min_approvals=3", key: key)
            #expect(candidates.json["min_approvals"] as? Double == 3)
            #expect(Self.applications(candidates).compactMap { $0["sha256"] as? String } == [Self.sha])
            let defaultCandidates = try await client.call(.get, "\(base)?group=candidates", key: key)
            #expect(defaultCandidates.json["min_approvals"] as? Double == 3)
            #expect(Self.applications(defaultCandidates).count == 1)
            let none = try await client.call(.get, "\(base)?group=candidates&min_approvals=4", key: key)
            #expect(Self.applications(none).isEmpty)

            let byUser = try await client.call(.get, "\(base)?group=user", key: key)
            #expect(byUser.json["applications"] == nil)
            let users = try #require(byUser.json["users"] as? [[String: any Sendable]])
            #expect(users.count == 4)
            let first = try #require(users.first)
            // bob and dave asked twice; bob's directory entry has no names, alice's has.
            #expect(first["requests"] as? Double == 2)
            let bob = try #require(users.first { ($0["directory_user"] as? [String: any Sendable])?["guid"] as? String == directory["bob"].description })
            #expect(bob["run_as_admin"] as? Double == 1)
            #expect(bob["admin_session"] as? Double == 1)
            #expect(bob["pending"] as? Double == 1)
            #expect(bob["tenant_id"] as? String == tenant.description)
            let alice = try #require(users.first { ($0["directory_user"] as? [String: any Sendable])?["guid"] as? String == directory["alice"].description })
            let aliceEntry = try #require(alice["directory_user"] as? [String: any Sendable])
            #expect(aliceEntry["sam_account_name"] as? String == "alice")
            #expect(aliceEntry["display_name"] as? String == "Alice Example")
            #expect(alice["applications"] as? Double == 1)

            let top = try await client.call(.get, "\(base)?group=user&limit=1", key: key)
            #expect((top.json["users"] as? [any Sendable])?.count == 1)
            #expect(top.json["truncated"] as? Double == 1)

            // The period: requests made now lie outside a period that ended an hour ago.
            let hourAgo = Date().addingTimeInterval(-3600).ISO8601Format()
            let earlier = try await client.call(.get, "\(base)?to=\(hourAgo)", key: key)
            #expect(earlier.status == .ok)
            #expect(Self.applications(earlier).isEmpty)
            let fromHourAgo = try await client.call(.get, "\(base)?from=\(hourAgo)", key: key)
            #expect(Self.applications(fromHourAgo).count == 2)
        }
    }

    @Test("CSV by format=csv or Accept: text/csv, parsed back; formula cells are neutralised")
    func csvReport() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let directory = try await Self.sampleRequests(client, world, index: 0)
            let base = "/v1/tenants/\(tenant)/reports/elevations"
            let byFormat = try await Self.csv(client, "\(base)?format=csv", key: key)
            let byAccept = try await Self.csv(client, base, key: key, accept: "text/csv")
            let preferred = try await Self.csv(client, base, key: key, accept: "application/json;q=0.5, text/csv")
            for answer in [byFormat, byAccept, preferred] {
                #expect(answer.status == 200)
                #expect(answer.contentType?.hasPrefix("text/csv") == true)
                #expect(answer.rows.first == ElevationReportCSV.applicationColumns)
                #expect(answer.rows.count == 3)
                #expect(answer.rows.allSatisfy { $0.count == ElevationReportCSV.applicationColumns.count })
            }
            let rows = byFormat.rows
            #expect(rows[1][0] == "vpnsetup.EXE")
            #expect(rows[1][1] == Self.sha)
            #expect(rows[1][6] == "4")
            #expect(rows[1][8] == "3")
            // Times are full RFC 3339 date-times (UTC, milliseconds), within the minute the requests were made.
            for cell in [rows[1][15], rows[1][16]] {
                let time = try Date(cell, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                #expect(abs(time.timeIntervalSinceNow) < 600, "\(cell)")
            }
            // A file name and a signer a spreadsheet would run as formulas are text.
            #expect(rows[2][0] == "'=2+3.exe")
            #expect(rows[2][2] == "'-evil")

            let users = try await Self.csv(client, "\(base)?group=user&format=csv", key: key)
            #expect(users.rows.first == ElevationReportCSV.userColumns)
            #expect(users.rows.count == 5)
            let alice = try #require(users.rows.first { $0[1] == directory["alice"].description })
            #expect(alice[0] == tenant.description)
            #expect(alice[2] == "alice")
            #expect(alice[4] == "Alice Example")

            let candidates = try await Self.csv(client, "\(base)?group=candidates&format=csv", key: key)
            #expect(candidates.rows.count == 2)
            #expect(candidates.rows.last?[1] == Self.sha)

            // JSON stays the default; an Accept that allows neither is refused, naming the header.
            let json = try await client.call(.get, base, key: key, headers: [.accept: "*/*"])
            #expect(json.headers[.contentType]?.hasPrefix("application/json") == true)
            expectProblem(try await client.call(.get, "\(base)?format=csv", key: key, headers: [.accept: "application/json"]), 400, field: "Accept")
            expectProblem(try await client.call(.get, base, key: key, headers: [.accept: "text/html"]), 400, field: "Accept")
        }
    }

    @Test("every report input a hostile caller can send is refused with 4xx naming it")
    func hostileInput() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run { client in
            let base = "/v1/tenants/\(tenant)/reports/elevations"
            let now = Date()
            let cases: [(String, Int, String)] = [
                ("limit=0", 400, "limit"),
                ("limit=10001", 400, "limit"),
                ("limit=1e3", 400, "limit"),
                ("min_approvals=0", 400, "min_approvals"),
                ("min_approvals=-1", 400, "min_approvals"),
                ("min_approvals=99999999999999999999", 400, "min_approvals"),
                ("from=\(now.ISO8601Format())&to=\(now.addingTimeInterval(-1).ISO8601Format())", 422, "from"),
                ("from=\(now.ISO8601Format())&to=\(now.ISO8601Format())", 422, "from"),
                ("from=\(now.addingTimeInterval(-367 * 86_400).ISO8601Format())", 422, "from"),
                ("from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z", 422, "from"),
            ]
            for (query, status, field) in cases {
                let answer = try await client.call(.get, "\(base)?\(query)", key: key)
                #expect(answer.status.code == status, "\(query) answered \(answer.status.code): \(answer.json)")
                #expect(answer.problemField == field, "\(query): \(answer.json)")
            }
            for query in ["group=everything", "format=xlsx", "from=last-week", "to=2026-12-07", "group=", "format=CSV"] {
                let answer = try await client.call(.get, "\(base)?\(query)", key: key)
                #expect(answer.status == .badRequest, "\(query) answered \(answer.status.code)")
                #expect(answer.problemField == query.split(separator: "=").first.map(String.init), "\(query): \(answer.json)")
            }
            let longest = try await client.call(
                .get, "\(base)?from=\(now.addingTimeInterval(-366 * 86_400).ISO8601Format())&to=\(now.ISO8601Format())&limit=10000",
                key: key
            )
            #expect(longest.status == .ok)
        }
    }

    @Test("the MSP report covers exactly the tenants the caller may read")
    func mspReportScope() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let other = try await TestApp.makeWorld(tenants: 1)
        let system = Caller.system(logger: TestApp.logger)
        let session = try await TestApp.withService { database in
            let people = PeopleService(database: database)
            _ = try await people.map(
                "tenant-0-auditors", to: Grant(role: .auditor, scope: .tenant(world.msp, world.tenants[0])), in: world.msp,
                by: system
            )
            return try await people.signIn(
                VerifiedIdentity(issuer: "https://idp.test", subject: UUID().uuidString, email: nil, name: nil, groups: ["tenant-0-auditors"]),
                msp: world.msp, client: ClientInfo(userAgent: nil, ip: nil), logger: TestApp.logger
            )
        }
        try await TestApp.run(TestApp.sealingConfig) { client in
            _ = try await Self.sampleRequests(client, world, index: 0)
            _ = try await Self.sampleRequests(client, world, index: 1)
            var headers: HTTPFields = [.cookie: "charter_session=\(session.credential)"]
            headers[HTTPField.Name("X-CSRF-Token")!] = session.csrfToken
            let issued = try await client.call(.post, "/v1/auth/tokens", headers: headers)
            let personToken = try #require(issued.json["token"] as? String)
            let base = "/v1/msps/\(world.msp)/reports/elevations"

            func vpn(_ key: String) async throws -> [String: any Sendable]? {
                let answer = try await client.call(.get, base, key: key)
                #expect(answer.status == .ok, "\(answer.json)")
                return Self.applications(answer).first
            }
            let all = try #require(try await vpn(world.mspKey))
            #expect(all["requests"] as? Double == 8)
            #expect(all["approved"] as? Double == 6)
            #expect(all["tenants"] as? Double == 2)
            #expect(all["users"] as? Double == 8)
            #expect(all["devices"] as? Double == 2)
            for scoped in [personToken, world.tenantKeys[1]] {
                let one = try #require(try await vpn(scoped))
                #expect(one["requests"] as? Double == 4)
                #expect(one["tenants"] as? Double == 1)
            }
            let users = try await client.call(.get, "\(base)?group=user", key: personToken)
            let tenants = Set(((users.json["users"] as? [[String: any Sendable]]) ?? []).compactMap { $0["tenant_id"] as? String })
            #expect(tenants == [world.tenants[0].description])
            let mspUsers = try await client.call(.get, "\(base)?group=user", key: world.mspKey)
            #expect((mspUsers.json["users"] as? [any Sendable])?.count == 8)

            let candidates = try await Self.csv(client, "\(base)?group=candidates&min_approvals=6", key: world.mspKey, accept: "text/csv")
            #expect(candidates.rows.count == 2)
            #expect(candidates.rows.last?[14] == "2")

            // Another MSP's caller learns nothing, not even that the MSP exists.
            expectProblem(try await client.call(.get, base, key: other.mspKey), 404)
            expectProblem(try await client.call(.get, base, key: other.tenantKeys[0]), 404)
        }
    }
}
