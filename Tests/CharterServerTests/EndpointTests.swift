import CharterBundle
import Crypto
import CharterCore
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Enrollment, bundles, check-ins, endpoint audit, PIN answers and signing-key rotation, through the real
/// routes and database; bundles are opened with CharterBundle's verifier, as an agent would.
@Suite("Endpoints")
struct EndpointTests {
    static func createToken(
        _ client: some TestClientProtocol, tenant: TenantID, key: String, body: String = #"{"name":"laptops"}"#
    ) async throws -> (id: String, secret: String) {
        let answer = try await client.call(.post, "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: body)
        try #require(answer.status == .created, "\(answer.json)")
        let token = try #require(answer.json["token"] as? [String: any Sendable])
        return (try #require(token["id"] as? String), try #require(answer.json["secret"] as? String))
    }

    @Test("enrollment tokens: use counts, a used-up, revoked or unknown token gets 401, secrets are never listed")
    func enrollmentTokens() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let once = try await Self.createToken(client, tenant: tenant, key: key, body: #"{"name":"one","max_uses":1}"#)
            var first = TestDevice()
            try await first.enroll(client, token: once.secret, hostname: "PC-1")
            var second = TestDevice()
            let usedUp = try await client.call(.post, "/v1/agent/enroll", body: second.enrollBody(token: once.secret, hostname: "PC-2"))
            expectProblem(usedUp, 401, field: "/enrollment_token")
            #expect(usedUp.headers[.wwwAuthenticate] == #"Bearer realm="charter-agent""#)

            let read = try await client.call(.get, "/v1/tenants/\(tenant)/enrollment-tokens/\(once.id)", key: key)
            #expect(read.json["uses"] as? Double == 1)
            #expect(read.json["status"] as? String == "used_up")

            let many = try await Self.createToken(client, tenant: tenant, key: key)
            let revoked = try await client.call(.delete, "/v1/tenants/\(tenant)/enrollment-tokens/\(many.id)", key: key)
            #expect(revoked.status == .noContent)
            let afterRevoke = try await client.call(.post, "/v1/agent/enroll", body: second.enrollBody(token: many.secret, hostname: "PC-2"))
            expectProblem(afterRevoke, 401)

            let forged = many.secret.dropLast(4) + "AAAA"
            let wrong = try await client.call(.post, "/v1/agent/enroll", body: second.enrollBody(token: String(forged), hostname: "PC-2"))
            expectProblem(wrong, 401)

            let fresh = try await Self.createToken(client, tenant: tenant, key: key)
            try await second.enroll(client, token: fresh.secret, hostname: "PC-2")
            #expect(second.id != first.id)

            let list = try await client.call(.get, "/v1/tenants/\(tenant)/enrollment-tokens", key: key)
            #expect(list.items.count == 3)
            #expect(!"\(list.json)".contains(fresh.secret.suffix(43)))
            let past = try await client.call(
                .post, "/v1/tenants/\(tenant)/enrollment-tokens", key: key,
                body: #"{"name":"old","expires_at":"2020-01-01T00:00:00Z"}"#
            )
            expectProblem(past, 422, field: "/expires_at")

            let audit = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events", key: key)
            let actions = audit.items.compactMap { $0["action"] as? String }
            #expect(actions.contains("enrollment_token.created"))
            #expect(actions.contains("enrollment_token.revoked"))
            #expect(actions.filter { $0 == "device.enrolled" }.count == 2)
        }
    }

    @Test("enrollment refuses bad input with the offending field and creates nothing")
    func enrollmentValidation() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: world.tenantKeys[0])
            let device = TestDevice()
            let sig = String(decoding: JWK(device.signingKey.publicKey).jsonData, as: UTF8.self)
            let swapped = """
                {"enrollment_token":"\(token.secret)","hostname":"PC","agent_version":"1",
                 "encryption_key":\(sig),"signing_key":\(sig)}
                """
            expectProblem(try await client.call(.post, "/v1/agent/enroll", body: swapped), 422, field: "/encryption_key/crv")
            let unknown = device.enrollBody(token: token.secret, hostname: "PC", extra: #""bogus":1,"#)
            expectProblem(try await client.call(.post, "/v1/agent/enroll", body: unknown), 400, field: "/bogus")
            let badSID = device.enrollBody(token: token.secret, hostname: "PC", extra: #""computer_sid":"S-1-x","#)
            expectProblem(try await client.call(.post, "/v1/agent/enroll", body: badSID), 422, field: "/computer_sid")
            let emptyHost = device.enrollBody(token: token.secret, hostname: "")
            expectProblem(try await client.call(.post, "/v1/agent/enroll", body: emptyHost), 422, field: "/hostname")
            expectProblem(try await client.call(.post, "/v1/agent/enroll", body: "{"), 400)
            let devices = try await client.call(.get, "/v1/tenants/\(tenant)/devices", key: world.tenantKeys[0])
            #expect(devices.items.isEmpty)
            let read = try await client.call(.get, "/v1/tenants/\(tenant)/enrollment-tokens/\(token.id)", key: world.tenantKeys[0])
            #expect(read.json["uses"] as? Double == 0)
        }
    }

    @Test("a bundle verifies, a matching ETag gets 304, and the version rises only when the content changes")
    func bundleVersions() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "ws1.example.test")
            let read = try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(device.id)", key: key)
            #expect((read.json["computer"] as? [String: any Sendable])?["guid"] as? String == directory["ws1"].description)

            let first = try await device.fetch(client)
            #expect(first.status == 200)
            let verified = try device.verifier().verify(first.body, now: Date())
            #expect(verified.claims.version == 1)
            #expect(verified.claims.deviceID == device.id)
            #expect(verified.claims.tenant == tenant.description)
            #expect(verified.claims.policy.computerSettings?["run_as_admin"]?["mode"]?.stringValue == "approval_required")
            let etag = try #require(first.etag)
            #expect(try await device.fetch(client, ifNoneMatch: etag).status == 304)

            // A user-target subsetting reaches no device without users: no hint, same bundle.
            let userSubsetting = subsettingBody(name: "Staff", groups: [directory["allStaff"]])
            let created = try await client.call(.post, "/v1/tenants/\(tenant)/subsettings", key: key, body: userSubsetting)
            #expect(created.status == .created)
            #expect(try await device.fetch(client, ifNoneMatch: etag).status == 304)
            #expect(try await Self.hints(for: device, in: tenant, msp: world.msp).isEmpty)

            let settings = #"{"schema_version":1,"run_as_admin":{"mode":"reason_required"}}"#
            let replaced = try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: settings)
            #expect(replaced.status == .ok)
            #expect(try await Self.hints(for: device, in: tenant, msp: world.msp).count == 1)
            let second = try await device.fetch(client, ifNoneMatch: etag)
            #expect(second.status == 200)
            let newer = try device.verifier(held: 1).verify(second.body, now: Date())
            #expect(newer.claims.version == 2)
            #expect(newer.claims.policy.computerSettings?["run_as_admin"]?["mode"]?.stringValue == "reason_required")

            // The older bundle is now a downgrade.
            #expect(throws: BundleError.versionDowngrade(held: 2, received: 1)) {
                try device.verifier(held: 2).verify(first.body, now: Date())
            }
            // Another device cannot open it.
            var other = TestDevice()
            try await other.enroll(client, token: token.secret, hostname: "ws2")
            #expect(throws: BundleError.self) { try other.verifier().verify(second.body, now: Date()) }

            let listed = try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(device.id)", key: key)
            #expect(listed.json["bundle_version"] as? Double == 2)
        }
    }

    @Test("a bundle follows every policy write: subsetting create, edit, disable, reorder and delete, and settings")
    func bundleFollowsPolicyWrites() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "ws1.example.test")
            var held: Int64 = 0
            func computerMode() async throws -> String? {
                let fetched = try await device.fetch(client)
                let verified = try device.verifier(held: held).verify(fetched.body, now: Date())
                held = verified.claims.version
                return verified.claims.policy.computerSettings?["run_as_admin"]?["mode"]?.stringValue
            }
            let base = "/v1/tenants/\(tenant)/subsettings"
            func create(_ name: String, mode: String, scope: [ObjectGUID] = [], ous: [ObjectGUID] = []) async throws -> String {
                let body = subsettingBody(
                    name: name, target: "computer", groups: scope, ous: ous,
                    overrides: #"{"run_as_admin":{"mode":"\#(mode)"}}"#
                )
                let created = try await client.call(.post, base, key: key, body: body)
                #expect(created.status == .created)
                return try #require(created.json["id"] as? String)
            }
            #expect(try await computerMode() == "approval_required")
            let workstations = try await create("Workstations", mode: "audit_only", ous: [directory["ou:workstations"]])
            #expect(try await computerMode() == "audit_only")
            let corp = try await create("Corp", mode: "disabled", ous: [directory["ou:corp"]])
            #expect(try await computerMode() == "audit_only", "the first subsetting in the list wins")

            let order = "{\"ids\":[\"\(corp)\",\"\(workstations)\"]}"
            #expect(try await client.call(.put, "\(base)/order", key: key, body: order).status == .ok)
            #expect(try await computerMode() == "disabled")

            let edit = #"{"overrides":{"run_as_admin":{"mode":"reason_required"}}}"#
            #expect(try await client.call(.patch, "\(base)/\(corp)", key: key, body: edit).status == .ok)
            #expect(try await computerMode() == "reason_required")
            #expect(try await client.call(.patch, "\(base)/\(corp)", key: key, body: #"{"enabled":false}"#).status == .ok)
            #expect(try await computerMode() == "audit_only")
            #expect(try await client.call(.delete, "\(base)/\(workstations)", key: key).status == .noContent)
            #expect(try await computerMode() == "approval_required")

            let settings = #"{"schema_version":1,"run_as_admin":{"mode":"disabled"}}"#
            #expect(try await client.call(.put, "/v1/tenants/\(tenant)/settings", key: key, body: settings).status == .ok)
            #expect(try await computerMode() == "disabled")
        }
    }

    /// The change-feed entries that concern `device`.
    static func hints(for device: TestDevice, in tenant: TenantID, msp: MSPID) async throws -> [ChangeFeedEntry] {
        let id = try #require(DeviceID(device.id))
        return try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.changeFeed.entries(of: tenant, for: id, after: 0, through: .max)
            }
        }
    }

    @Test("re-enrollment with proof by the current key keeps the id and replaces keys and token; revocation stops the token at once")
    func reenrollAndRevoke() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var original = TestDevice()
            try await original.enroll(client, token: token.secret, hostname: "KIOSK-7")
            var replacement = TestDevice()
            let proof = try await DeviceIdentityTests.proof(client, current: original, next: replacement)
            try await replacement.enroll(client, token: token.secret, hostname: "kiosk-7", extra: proof, status: 200)
            #expect(replacement.id == original.id)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: original.token), 401)

            let bundle = try await replacement.fetch(client)
            #expect(bundle.status == 200)
            _ = try replacement.verifier().verify(bundle.body, now: Date())
            #expect(throws: BundleError.self) { try original.verifier().verify(bundle.body, now: Date()) }

            let revoked = try await client.call(.delete, "/v1/tenants/\(tenant)/devices/\(replacement.id)", key: key)
            #expect(revoked.status == .noContent)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: replacement.token), 401)
            let read = try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(replacement.id)", key: key)
            #expect(read.json["status"] as? String == "revoked")
        }
    }

    @Test("a check-in brings the users' policies into the next bundle")
    func checkinUsers() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        try await TestApp.run(TestApp.sealingConfig) { client in
            let staff = subsettingBody(name: "Staff", groups: [directory["allStaff"]])
            #expect(try await client.call(.post, "/v1/tenants/\(tenant)/subsettings", key: key, body: staff).status == .created)
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(
                client, token: token.secret, hostname: "anything",
                extra: #""computer_guid":"\#(directory["ws1"])","#
            )
            let before = try await device.fetch(client)
            let first = try device.verifier().verify(before.body, now: Date())
            #expect(first.claims.policy.users.isEmpty)

            let checkin = """
                {"agent_version":"1.0.1","bundle_version":1,
                 "users":[{"guid":"\(directory["alice"])","upn":"alice@example.test"},{"upn":"nobody@example.test"}]}
                """
            let answer = try await client.call(.post, "/v1/agent/checkin", key: device.token, body: checkin)
            #expect(answer.status == .ok)
            #expect(answer.json["checkin_seconds"] as? Double == 300)
            #expect(try await Self.hints(for: device, in: tenant, msp: world.msp).count == 1)

            let after = try await device.fetch(client, ifNoneMatch: before.etag)
            #expect(after.status == 200)
            let second = try device.verifier(held: 1).verify(after.body, now: Date())
            #expect(second.claims.version == 2)
            let alice = try #require(second.claims.policy.users.first)
            #expect(second.claims.policy.users.count == 1)
            #expect(alice.guid == directory["alice"].description)
            let settings = second.claims.policy.settings(forUserSID: nil, guid: alice.guid)
            #expect(settings?["run_as_admin"]?["mode"]?.stringValue == "audit_only")
            #expect(second.claims.policy.computerSettings?["run_as_admin"]?["mode"]?.stringValue == "approval_required")

            let read = try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(device.id)", key: key)
            #expect(read.json["held_version"] as? Double == 1)
            #expect(read.json["agent_version"] as? String == "1.0.1")

            let empty = try await client.call(.post, "/v1/agent/checkin", key: device.token, body: #"{"agent_version":"1","users":[{}]}"#)
            expectProblem(empty, 422, field: "/users/0")
        }
    }

    @Test("endpoint audit events land in the tenant's log once, however often they are sent")
    func endpointAudit() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "PC-9")
            let events = """
                {"events":[
                  {"id":"\(UUID())","type":"run_as_admin.audit_only","occurred_at":"2026-11-29T10:15:02.125Z",
                   "user":{"upn":"ann@example.test"},"application":{"file_name":"setup.exe"}},
                  {"id":"\(UUID())","type":"pin.accepted","occurred_at":"2026-11-29T10:16:00Z"}]}
                """
            let first = try await client.call(.post, "/v1/agent/audit", key: device.token, body: events)
            #expect(first.json["accepted"] as? Double == 2)
            let again = try await client.call(.post, "/v1/agent/audit", key: device.token, body: events)
            #expect(again.json["accepted"] as? Double == 0)
            #expect(again.json["duplicates"] as? Double == 2)
            let log = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=endpoint.pin.accepted", key: key)
            #expect(log.items.count == 1)
            let verify = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events/verify", key: key)
            #expect(verify.json["valid"] as? Double == 1, "booleans arrive as numbers from JSONSerialization")

            let badType = #"{"events":[{"id":"\#(UUID())","type":"Bad Type","occurred_at":"2026-11-29T10:15:02Z"}]}"#
            expectProblem(try await client.call(.post, "/v1/agent/audit", key: device.token, body: badType), 422, field: "/events/0/type")
            expectProblem(try await client.call(.post, "/v1/agent/audit", key: device.token, body: #"{"events":[]}"#), 422, field: "/events")
        }
    }

    @Test("a PIN challenge gets one response, which the device's bundle secret verifies")
    func offlinePIN() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "PC-5")
            let bundle = try device.verifier().verify(try await device.fetch(client).body, now: Date())
            let pin = bundle.claims.pin
            let challenge = pin.makeChallenge()
            let uri = "/v1/tenants/\(tenant)/devices/\(device.id)/pin"
            let answer = try await client.call(.post, uri, key: key, body: #"{"challenge":"\#(challenge.lowercased())","reason":"ticket 4711"}"#)
            #expect(answer.status == .ok)
            let response = try #require(answer.json["response"] as? String)
            #expect(pin.verify(response, for: challenge, at: Date()) == .accepted)
            expectProblem(try await client.call(.post, uri, key: key, body: #"{"challenge":"\#(challenge)"}"#), 409)
            expectProblem(try await client.call(.post, uri, key: key, body: #"{"challenge":"not-a-challenge!"}"#), 422, field: "/challenge")
            let log = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=device.pin_issued", key: key)
            #expect(log.items.count == 1)
            #expect(!"\(log.json)".contains(response))
        }
    }

    @Test("a device further behind than the feed holds resyncs: the decisions still there, then one bundle hint")
    func resumeBeyondHistory() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "ws-away")
            let deviceID = try #require(UUID(uuidString: device.id))
            func poll(after: Int64) async throws -> (events: [(event: String, data: String)], last: Int64) {
                let answer = try await client.call(
                    .get, "/v1/agent/events?wait=0&last_event_id=\(after)", key: device.token, headers: [.accept: "application/json"]
                )
                #expect(answer.status == .ok)
                let events = (answer.json["events"] as? [[String: any Sendable]] ?? []).map { event in
                    (event["event"] as? String ?? "", "\(event["data"] ?? "")")
                }
                return (events, Int64(answer.json["last_event_id"] as? String ?? "") ?? -1)
            }
            // Row-level security binds the owner too: the feed head through its function, the rows in the tenant.
            let start = try await TestApp.withOwner { database in
                let head = try await database.withoutTenant(logger: TestApp.logger) { tx in try await tx.changeFeed.head(of: tenant) }
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.query(
                        """
                        INSERT INTO change_feed (tenant_id, event, device_ids, data)
                        VALUES (\(tenant.rawValue), 'decision', ARRAY[\(deviceID)]::uuid[], '{"request_id":"r1","status":"approved"}')
                        """
                    )
                    try await tx.query(
                        """
                        INSERT INTO change_feed (tenant_id, event, data)
                        SELECT \(tenant.rawValue), 'bundle', '{"reason":"policy"}' FROM generate_series(1, 1000)
                        """
                    )
                }
                return head
            }

            // 1,001 entries behind: more than one reconnect replays.
            let behind = try await poll(after: start)
            #expect(behind.events.map(\.event) == ["decision", "bundle"])
            #expect(behind.events.last?.data.contains("resync") == true)
            // What the hub had not read yet when the stream began follows as usual, then nothing.
            let caughtUp = try await poll(after: behind.last)
            #expect(caughtUp.events.count <= 1)
            #expect(caughtUp.events.allSatisfy { $0.event == "bundle" && !$0.data.contains("resync") })
            #expect(try await poll(after: caughtUp.last).events.isEmpty)

            // A week later the entries are pruned: the horizon, not the count, says the device missed them.
            try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.query(
                        "UPDATE change_feed SET occurred_at = now() - interval '8 days' WHERE tenant_id = \(tenant.rawValue)"
                    )
                }
            }
            // Any replica's hub may prune them first (every hub prunes when it starts); either way they go.
            _ = try await TestApp.withService { database in
                try await database.withoutTenant(logger: TestApp.logger) { tx in
                    try await tx.changeFeed.prune(olderThanSeconds: 7 * 86_400)
                }
            }
            let left = try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    let rows = try await tx.query("SELECT count(*) FROM change_feed WHERE tenant_id = \(tenant.rawValue)")
                    var count: Int64 = -1
                    for try await value in rows.decode(Int64.self) { count = value }
                    return count
                }
            }
            #expect(left <= 1, "only the feed's newest entry is kept")
            let pruned = try await poll(after: start)
            #expect(pruned.events.map(\.event) == ["bundle"])
            #expect(pruned.events.first?.data.contains("resync") == true)
            #expect(try await poll(after: pruned.last).events.isEmpty)
        }
    }

    @Test("rotation: the next key is announced in bundles signed by the current one, then takes over")
    func signingKeyRotation() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "PC-R")
            let first = try device.verifier().verify(try await device.fetch(client).body, now: Date())
            let oldKey = first.signingKeyID

            let rotated = try await client.call(
                .post, "/v1/tenants/\(tenant)/signing-keys/rotate", key: key, body: #"{"announce_seconds":3600}"#
            )
            #expect(rotated.status == .created)
            expectProblem(
                try await client.call(.post, "/v1/tenants/\(tenant)/signing-keys/rotate", key: key, body: "{}"), 409
            )
            let announced = try device.verifier(held: 1).verify(try await device.fetch(client).body, now: Date())
            #expect(announced.signingKeyID == oldKey)
            #expect(announced.claims.version == 2)
            let next = try #require(announced.claims.signingKeys.first { $0.status == .next })
            let accepted = device.verifier(held: 1).accepting(announced)

            // The announcement window ends.
            try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.query(
                        """
                        UPDATE signing_keys SET activates_at = now() - interval '1 second'
                        WHERE tenant_id = \(tenant.rawValue) AND kid = \(next.keyID)
                        """
                    )
                    try await tx.query(
                        """
                        UPDATE signing_keys SET retires_at = greatest(activates_at, now() - interval '1 second')
                        WHERE tenant_id = \(tenant.rawValue) AND kid = \(oldKey)
                        """
                    )
                }
            }
            let takeover = try await device.fetch(client)
            let third = try accepted.verify(takeover.body, now: Date())
            #expect(third.signingKeyID == next.keyID)
            #expect(third.claims.signingKeys.map(\.keyID) == [next.keyID])
            #expect(throws: BundleError.unknownSigningKey(keyID: next.keyID)) {
                try device.verifier().verify(takeover.body, now: Date())
            }
            let keys = try await client.call(.get, "/v1/tenants/\(tenant)/signing-keys", key: key)
            let statuses = ((keys.json["keys"] as? [[String: any Sendable]]) ?? []).compactMap { $0["status"] as? String }
            #expect(statuses.sorted() == ["active", "retired"])
        }
    }
}
