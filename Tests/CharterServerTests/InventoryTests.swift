import CharterCore
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// The device inventory (`GET /v1/tenants/{tenant}/devices[/{id}]`): known users with their directory identity,
/// search and filters, with devices enrolled, checked in and fetching through the agent API.
@Suite("Device inventory")
struct InventoryTests {
    /// Gives a directory user of the sample directory the names a sync would store.
    static func name(
        _ guid: ObjectGUID, sam: String, upn: String, display: String, sid: String? = nil, in tenant: TenantID, msp: MSPID
    ) async throws {
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    UPDATE directory_objects SET sam_account_name = \(sam), user_principal_name = \(upn),
                        display_name = \(display), sid = \(sid)
                    WHERE tenant_id = \(tenant.rawValue) AND guid = \(guid.rawValue)
                    """
                )
            }
        }
    }

    /// Moves a device's last contact into the past (no test waits days for it).
    static func lastSeen(_ device: TestDevice, daysAgo days: Int, in tenant: TenantID, msp: MSPID) async throws {
        let id = try #require(UUID(uuidString: device.id))
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    UPDATE devices SET last_seen_at = now() - make_interval(days => \(Int32(days)))
                    WHERE tenant_id = \(tenant.rawValue) AND id = \(id)
                    """
                )
            }
        }
    }

    static func ids(_ answer: Answer) -> Set<String> {
        Set(answer.items.compactMap { $0["id"] as? String })
    }

    @Test("known users: as reported, with the synced directory user each matches, most recently seen first")
    func knownUsers() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await Self.name(
            directory["alice"], sam: "alice", upn: "alice@example.test", display: "Alice Example",
            sid: "S-1-5-21-1-2-3-1101", in: tenant, msp: world.msp
        )
        try await Self.name(directory["bob"], sam: "bob", upn: "bob@example.test", display: "Bob Example", in: tenant, msp: world.msp)
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "ws1")
            let first = """
                {"agent_version":"1.0.0","users":[{"upn":"BOB@example.test"},{"sid":"S-1-5-21-9-9-9-500"}]}
                """
            #expect(try await client.call(.post, "/v1/agent/checkin", key: device.token, body: first).status == .ok)
            // Later, alice by SID only (lower case, as some agents send it).
            let second = #"{"agent_version":"1.0.0","users":[{"sid":"s-1-5-21-1-2-3-1101"}]}"#
            #expect(try await client.call(.post, "/v1/agent/checkin", key: device.token, body: second).status == .ok)

            let read = try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(device.id)", key: key)
            #expect(read.status == .ok)
            #expect(read.json["known_user_count"] as? Double == 3)
            let users = try #require(read.json["known_users"] as? [[String: any Sendable]])
            #expect(users.count == 3)
            let alice = try #require(users.first)
            // The agent API keeps a SID in its canonical upper case.
            #expect(alice["sid"] as? String == "S-1-5-21-1-2-3-1101")
            let aliceEntry = try #require(alice["directory_user"] as? [String: any Sendable])
            #expect(aliceEntry["guid"] as? String == directory["alice"].description)
            #expect(aliceEntry["sam_account_name"] as? String == "alice")
            #expect(aliceEntry["user_principal_name"] as? String == "alice@example.test")
            #expect(aliceEntry["display_name"] as? String == "Alice Example")
            #expect(alice["first_seen_at"] is String && alice["last_seen_at"] is String)

            let bob = try #require(users.first { $0["upn"] as? String == "BOB@example.test" })
            let bobEntry = try #require(bob["directory_user"] as? [String: any Sendable])
            #expect(bobEntry["guid"] as? String == directory["bob"].description)
            #expect(bobEntry["display_name"] as? String == "Bob Example")
            // A user the directory does not hold is listed as reported, with no directory identity.
            let stranger = try #require(users.first { $0["sid"] as? String == "S-1-5-21-9-9-9-500" })
            #expect(stranger["directory_user"] == nil)

            let list = try await client.call(.get, "/v1/tenants/\(tenant)/devices", key: key)
            let listed = try #require(list.items.first { $0["id"] as? String == device.id })
            #expect(listed["known_user_count"] as? Double == 3)
            #expect((listed["known_users"] as? [any Sendable])?.count == 3)
        }
    }

    @Test("filters: host name (contains or prefix, case-insensitive, % and _ literal), OS, last seen, status")
    func filters() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var devices: [String: TestDevice] = [:]
            for (hostname, os) in [
                ("LAB_01", "Windows 11 Pro"), ("LAB-02", "Windows 10 Enterprise"), ("lab%03", "Windows Server 2022"),
                ("Kiosk-1", "Windows 11 IoT"),
            ] {
                var device = TestDevice()
                try await device.enroll(client, token: token.secret, hostname: hostname, extra: #""os":"\#(os)","#)
                devices[hostname] = device
            }
            // Another tenant's device of the same name is never listed.
            let otherToken = try await EndpointTests.createToken(client, tenant: world.tenants[1], key: world.tenantKeys[1])
            var other = TestDevice()
            try await other.enroll(client, token: otherToken.secret, hostname: "LAB_01")
            try await Self.lastSeen(try #require(devices["Kiosk-1"]), daysAgo: 40, in: tenant, msp: world.msp)
            #expect(try await client.call(.delete, "/v1/tenants/\(tenant)/devices/\(devices["LAB-02"]!.id)", key: key).status == .noContent)

            func listed(_ query: String) async throws -> Set<String> {
                let answer = try await client.call(.get, "/v1/tenants/\(tenant)/devices?\(query)", key: key)
                #expect(answer.status == .ok, "\(query): \(answer.json)")
                let names = Set(answer.items.compactMap { $0["hostname"] as? String })
                return names
            }
            let all: Set = ["LAB_01", "LAB-02", "lab%03", "Kiosk-1"]
            #expect(try await listed("limit=200") == all)
            #expect(try await listed("hostname=lab") == ["LAB_01", "LAB-02", "lab%03"])
            #expect(try await listed("hostname=AB&hostname_match=prefix") == [])
            #expect(try await listed("hostname=KIOSK&hostname_match=prefix") == ["Kiosk-1"])
            // A wildcard matches only itself.
            #expect(try await listed("hostname=_") == ["LAB_01"])
            #expect(try await listed("hostname=%25") == ["lab%03"])
            #expect(try await listed("hostname=lab%25&hostname_match=prefix") == ["lab%03"])
            #expect(try await listed("hostname=%5C") == [])
            #expect(try await listed("os=windows%2011") == ["LAB_01", "Kiosk-1"])
            #expect(try await listed("os=server") == ["lab%03"])
            let tenDaysAgo = Date().addingTimeInterval(-10 * 86_400).ISO8601Format()
            #expect(try await listed("last_seen_before=\(tenDaysAgo)") == ["Kiosk-1"])
            #expect(try await listed("last_seen_after=\(tenDaysAgo)") == ["LAB_01", "LAB-02", "lab%03"])
            #expect(try await listed("status=revoked") == ["LAB-02"])
            #expect(try await listed("status=active&hostname=lab") == ["LAB_01", "lab%03"])
            #expect(try await listed("status=pending_approval") == [])

            // Filters page like the plain list: every page is filtered, none repeats.
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.call(
                    .get, "/v1/tenants/\(tenant)/devices?hostname=a&limit=1" + (cursor.map { "&cursor=\($0)" } ?? ""),
                    key: key
                )
                seen += page.items.compactMap { $0["hostname"] as? String }
                cursor = page.json["next_cursor"] as? String
            } while cursor != nil
            #expect(seen.count == 3 && Set(seen) == ["LAB_01", "LAB-02", "lab%03"])
        }
    }

    @Test("every filter value a hostile admin can send is refused with 400 naming it, never a 500")
    func hostileFilters() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run { client in
            let cases: [(String, String)] = [
                ("hostname=" + String(repeating: "a", count: 254), "hostname"),
                ("hostname=", "hostname"),
                ("os=" + String(repeating: "%C3%A9", count: 201), "os"),
                ("os=", "os"),
                ("hostname_match=regex", "hostname_match"),
                ("status=deleted", "status"),
                ("behind=maybe", "behind"),
                ("last_seen_after=yesterday", "last_seen_after"),
                ("last_seen_before=2026-13-01T00:00:00Z", "last_seen_before"),
                ("limit=0", "limit"),
                ("cursor=%25", "cursor"),
            ]
            for (query, field) in cases {
                let answer = try await client.call(.get, "/v1/tenants/\(tenant)/devices?\(query)", key: key)
                #expect(answer.status == .badRequest, "\(query) answered \(answer.status.code)")
                #expect(answer.problemField == field, "\(query): \(answer.json)")
            }
            // The longest allowed values are taken.
            let longest = try await client.call(
                .get, "/v1/tenants/\(tenant)/devices?hostname=\(String(repeating: "a", count: 253))&os=\(String(repeating: "%C3%A9", count: 200))",
                key: key
            )
            #expect(longest.status == .ok)
        }
    }

    @Test("behind: no bundle yet, hinted and not fetched, or fetched but not acknowledged; revoked devices never")
    func behind() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var fresh = TestDevice()
            try await fresh.enroll(client, token: token.secret, hostname: "fresh")
            var current = TestDevice()
            try await current.enroll(client, token: token.secret, hostname: "current")
            var revoked = TestDevice()
            try await revoked.enroll(client, token: token.secret, hostname: "revoked")
            #expect(try await client.call(.delete, "/v1/tenants/\(tenant)/devices/\(revoked.id)", key: key).status == .noContent)

            func behindNames() async throws -> Set<String> {
                let answer = try await client.call(.get, "/v1/tenants/\(tenant)/devices?behind=true", key: key)
                let notBehind = try await client.call(.get, "/v1/tenants/\(tenant)/devices?behind=false", key: key)
                let flagged = Set(answer.items.compactMap { $0["hostname"] as? String })
                let unflagged = Set(notBehind.items.compactMap { $0["hostname"] as? String })
                #expect(flagged.isDisjoint(with: unflagged) && flagged.union(unflagged).count == 3)
                for item in answer.items { #expect(item["behind"] as? Double == 1) }
                for item in notBehind.items { #expect(item["behind"] as? Double == 0) }
                return flagged
            }
            func checkIn(_ device: TestDevice, holding version: Int) async throws {
                let body = #"{"agent_version":"1.0.0","bundle_version":\#(version),"users":[]}"#
                #expect(try await client.call(.post, "/v1/agent/checkin", key: device.token, body: body).status == .ok)
            }

            #expect(try await behindNames() == ["fresh", "current"])
            #expect(try await current.fetch(client).status == 200)
            // Fetched but not yet acknowledged at a check-in.
            #expect(try await behindNames() == ["fresh", "current"])
            try await checkIn(current, holding: 1)
            #expect(try await behindNames() == ["fresh"])

            // A policy change that reaches every device: hinted, not fetched.
            let settings = #"{"schema_version":1,"run_as_admin":{"mode":"audit_only"}}"#
            let put = try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: settings)
            #expect(put.status == .ok, "\(put.json)")
            #expect(try await behindNames() == ["fresh", "current"])
            let fetched = try await current.fetch(client)
            #expect(fetched.status == 200)
            #expect(try await behindNames() == ["fresh", "current"])
            try await checkIn(current, holding: 2)
            #expect(try await behindNames() == ["fresh"])
            let read = try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(current.id)", key: key)
            #expect(read.json["behind"] as? Double == 0)
            #expect(read.json["bundle_version"] as? Double == 2)
        }
    }
}
