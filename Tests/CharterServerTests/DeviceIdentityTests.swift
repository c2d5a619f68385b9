import CharterBundle
import CharterCore
import CharterServer
import CharterStore
import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Issue 14, item 3: an endpoint's identity cannot be taken over with an enrollment token, a revoked device
/// does not come back through one, and device tokens are short-lived and renewed by signature.
@Suite("Device identity")
struct DeviceIdentityTests {
    /// `POST /v1/agent/challenge`: a fresh nonce.
    static func nonce(_ client: some TestClientProtocol) async throws -> String {
        let answer = try await client.call(.post, "/v1/agent/challenge")
        try #require(answer.status == .ok, "\(answer.json)")
        #expect(answer.json["expires_at"] is String)
        return try #require(answer.json["nonce"] as? String)
    }

    /// `given`, or a fresh nonce.
    static func nonce(_ given: String?, _ client: some TestClientProtocol) async throws -> String {
        if let given { return given }
        return try await nonce(client)
    }

    /// A `proof` member for re-enrolling `current` with `next`'s keys, signed by `signer` (normally `current`).
    static func proof(
        _ client: some TestClientProtocol, current: TestDevice, next: TestDevice, signer: TestDevice? = nil,
        nonce: String? = nil
    ) async throws -> String {
        let nonce = try await Self.nonce(nonce, client)
        let message = DeviceProof.reenrollmentMessage(
            nonce: nonce, deviceID: current.id, encryptionKey: next.encryptionKey.publicKey.rawRepresentation,
            signingKey: next.signingKey.publicKey.rawRepresentation
        )
        let signature = Base64URL.encode(try (signer ?? current).signingKey.signature(for: message))
        return #""proof":{"device_id":"\#(current.id)","nonce":"\#(nonce)","signature":"\#(signature)"},"#
    }

    /// `POST /v1/agent/token` signed by `signer`'s key for `device`.
    static func renew(
        _ client: some TestClientProtocol, _ device: TestDevice, signer: TestDevice? = nil, nonce: String? = nil
    ) async throws -> Answer {
        let nonce = try await Self.nonce(nonce, client)
        let message = DeviceProof.renewalMessage(nonce: nonce, deviceID: device.id)
        let signature = Base64URL.encode(try (signer ?? device).signingKey.signature(for: message))
        return try await client.call(
            .post, "/v1/agent/token",
            body: #"{"device_id":"\#(device.id)","nonce":"\#(nonce)","signature":"\#(signature)"}"#
        )
    }

    static func status(_ client: some TestClientProtocol, tenant: TenantID, key: String, _ device: TestDevice) async throws -> String? {
        try await client.call(.get, "/v1/tenants/\(tenant)/devices/\(device.id)", key: key).json["status"] as? String
    }

    @Test("a token and another device's computer GUID give a device that waits for approval; the real one keeps working")
    func takeoverWithoutProof() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let guid = UUID().uuidString.lowercased()
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var real = TestDevice()
            try await real.enroll(client, token: token.secret, hostname: "PC-1", extra: #""computer_guid":"\#(guid)","#)
            var intruder = TestDevice()
            try await intruder.enroll(client, token: token.secret, hostname: "evil", extra: #""computer_guid":"\#(guid)","#, status: 202)
            #expect(intruder.id != real.id)

            #expect(try await real.fetch(client).status == 200)
            let refused = try await client.call(.get, "/v1/agent/bundle", key: intruder.token)
            expectProblem(refused, 403)
            #expect(refused.json["code"] as? String == "device-pending-approval")
            expectProblem(try await client.call(.get, "/v1/agent/events", key: intruder.token), 403)
            #expect(try await Self.status(client, tenant: tenant, key: key, intruder) == "pending_approval")
            #expect(try await Self.status(client, tenant: tenant, key: key, real) == "active")

            let audit = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=device.enrollment_pending", key: key)
            #expect(audit.items.count == 1)
            #expect("\(audit.items)".contains(real.id))

            // An administrator who approves it replaces the real device (a reinstalled computer).
            let approved = try await client.call(.post, "/v1/tenants/\(tenant)/devices/\(intruder.id)/approve", key: key)
            #expect(approved.status == .ok)
            #expect(approved.json["status"] as? String == "active")
            #expect(try await intruder.fetch(client).status == 200)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: real.token), 401)
            #expect(try await Self.status(client, tenant: tenant, key: key, real) == "revoked")
            expectProblem(try await client.call(.post, "/v1/tenants/\(tenant)/devices/\(intruder.id)/approve", key: key), 409)
        }
    }

    @Test("re-enrollment with a signature by the current key keeps the id; a forged or replayed proof is refused")
    func reenrollmentWithProof() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var original = TestDevice()
            try await original.enroll(client, token: token.secret, hostname: "KIOSK-7")
            var next = TestDevice()
            let stranger = TestDevice()

            let forged = try await Self.proof(client, current: original, next: next, signer: stranger)
            let refused = try await client.call(.post, "/v1/agent/enroll", body: next.enrollBody(token: token.secret, hostname: "KIOSK-7", extra: forged))
            expectProblem(refused, 422, field: "/proof/signature")

            let nonce = try await Self.nonce(client)
            let proof = try await Self.proof(client, current: original, next: next, nonce: nonce)
            try await next.enroll(client, token: token.secret, hostname: "kiosk-7", extra: proof, status: 200)
            #expect(next.id == original.id)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: original.token), 401)
            let bundle = try await next.fetch(client)
            #expect(bundle.status == 200)
            _ = try next.verifier().verify(bundle.body, now: Date())

            var third = TestDevice()
            let replayed = try await Self.proof(client, current: next, next: third, nonce: nonce)
            let again = try await client.call(.post, "/v1/agent/enroll", body: third.enrollBody(token: token.secret, hostname: "KIOSK-7", extra: replayed))
            expectProblem(again, 422, field: "/proof/nonce")
            let fresh = try await Self.proof(client, current: next, next: third)
            try await third.enroll(client, token: token.secret, hostname: "KIOSK-7", extra: fresh, status: 200)
            #expect(third.id == original.id)
        }
    }

    @Test("a revoked device does not come back through a token; an administrator restores it and it renews by signature")
    func revokedStaysRevoked() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "LAPTOP-3")
            #expect(try await client.call(.delete, "/v1/tenants/\(tenant)/devices/\(device.id)", key: key).status == .noContent)

            var comeback = TestDevice()
            try await comeback.enroll(client, token: token.secret, hostname: "laptop-3", status: 202)
            #expect(comeback.id != device.id)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: comeback.token), 403)
            let proven = TestDevice()
            let proof = try await Self.proof(client, current: device, next: proven)
            let withProof = try await client.call(.post, "/v1/agent/enroll", body: proven.enrollBody(token: token.secret, hostname: "LAPTOP-3", extra: proof))
            expectProblem(withProof, 403, field: "/proof/device_id")
            expectProblem(try await Self.renew(client, device), 401)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: device.token), 401)
            #expect(try await Self.status(client, tenant: tenant, key: key, device) == "revoked")

            let restored = try await client.call(.post, "/v1/tenants/\(tenant)/devices/\(device.id)/restore", key: key)
            #expect(restored.status == .ok, "\(restored.json)")
            #expect(restored.json["status"] as? String == "active")
            // Its old token does not come back with it: the agent renews by signature.
            let expired = try await client.call(.get, "/v1/agent/bundle", key: device.token)
            expectProblem(expired, 401)
            #expect(expired.json["code"] as? String == "token-expired")
            #expect(expired.headers[.wwwAuthenticate]?.contains(#"error="invalid_token""#) == true)
            let renewed = try await Self.renew(client, device)
            #expect(renewed.status == .ok)
            device.token = try #require(renewed.json["device_token"] as? String)
            #expect(try await device.fetch(client).status == 200)
            expectProblem(try await client.call(.post, "/v1/tenants/\(tenant)/devices/\(device.id)/restore", key: key), 409)

            let audit = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=device.restored", key: key)
            #expect(audit.items.count == 1)
        }
    }

    @Test("renewal needs the device key's signature over a fresh challenge; the replaced token lasts until its expiry")
    func renewal() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            let first = TestDevice()
            let enrolled = try await client.call(.post, "/v1/agent/enroll", body: first.enrollBody(token: token.secret, hostname: "PC-5"))
            let expiresAt = try #require((enrolled.json["token_expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiresAt.timeIntervalSinceNow - 86_400) < 120)
            #expect(enrolled.json["status"] as? String == "active")
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "PC-6")

            let stranger = TestDevice()
            expectProblem(try await Self.renew(client, device, signer: stranger), 401)
            let nonce = try await Self.nonce(client)
            let renewed = try await Self.renew(client, device, nonce: nonce)
            #expect(renewed.status == .ok)
            expectProblem(try await Self.renew(client, device, nonce: nonce), 401, field: "/nonce")
            let newToken = try #require(renewed.json["device_token"] as? String)
            #expect(newToken != device.token)
            #expect(renewed.json["token_expires_at"] is String)
            // Both work: the replaced token until its own expiry, so an agent's concurrent calls are not cut off.
            #expect(try await device.fetch(client).status == 200)
            let old = device.token
            device.token = newToken
            #expect(try await device.fetch(client).status == 200)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: String(old.dropLast(4)) + "AAAA"), 401)
            let malformed = try await client.call(.post, "/v1/agent/token", body: #"{"device_id":"x","nonce":"y","signature":"z"}"#)
            expectProblem(malformed, 422, field: "/device_id")
        }
    }

    @Test("a token holder flooding pending devices for one computer is stopped by the token's uses and the device quota")
    func pendingFlood() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        let guid = UUID().uuidString.lowercased()
        var config = TestApp.sealingConfig
        config.limits.quotas.devicesPerTenant = 4
        try await TestApp.run(config) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            var real = TestDevice()
            try await real.enroll(client, token: token.secret, hostname: "PC-1", extra: #""computer_guid":"\#(guid)","#)
            var statuses: [Int] = []
            for index in 0..<5 {
                let answer = try await client.call(
                    .post, "/v1/agent/enroll",
                    body: TestDevice().enrollBody(token: token.secret, hostname: "evil-\(index)", extra: #""computer_guid":"\#(guid)","#)
                )
                statuses.append(Int(answer.status.code))
            }
            #expect(statuses == [202, 202, 202, 409, 409], "pending devices count against the tenant's device quota")
            #expect(try await real.fetch(client).status == 200, "the real device keeps working")

            let limited = try await EndpointTests.createToken(client, tenant: tenant, key: key, body: #"{"name":"once","max_uses":1}"#)
            let devices = "/v1/tenants/\(tenant)/devices"
            let pending = try await client.call(.get, devices, key: key).items.filter { $0["status"] as? String == "pending_approval" }
            #expect(pending.count == 3)
            for item in pending {
                let id = try #require(item["id"] as? String)
                #expect(try await client.call(.delete, "\(devices)/\(id)", key: key).status == .noContent)
            }
            var intruder = TestDevice()
            try await intruder.enroll(client, token: limited.secret, hostname: "evil-x", extra: #""computer_guid":"\#(guid)","#, status: 202)
            let usedUp = try await client.call(
                .post, "/v1/agent/enroll",
                body: TestDevice().enrollBody(token: limited.secret, hostname: "evil-y", extra: #""computer_guid":"\#(guid)","#)
            )
            expectProblem(usedUp, 401, field: "/enrollment_token")
        }
    }

    @Test("a challenge is minted without a row; only a valid signature spends it, once; a forged nonce is refused")
    func statelessChallenges() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: world.tenants[0], key: world.tenantKeys[0])
            var device = TestDevice()
            try await device.enroll(client, token: token.secret, hostname: "PC-9")
            let nonce = try await Self.nonce(client)
            #expect(try await Self.storedChallenges(nonce) == 0, "asking for a challenge writes nothing")
            expectProblem(try await Self.renew(client, device, signer: TestDevice(), nonce: nonce), 401)
            #expect(try await Self.storedChallenges(nonce) == 0, "a signature that fails does not spend it")
            #expect(try await Self.renew(client, device, nonce: nonce).status == .ok)
            #expect(try await Self.storedChallenges(nonce) == 1)
            expectProblem(try await Self.renew(client, device, nonce: nonce), 401, field: "/nonce")
            var forged = try #require(Base64URL.decode(try await Self.nonce(client)))
            forged[forged.startIndex + 1] ^= 0x40
            expectProblem(try await Self.renew(client, device, nonce: Base64URL.encode(forged)), 401, field: "/nonce")
            expectProblem(try await Self.renew(client, device, nonce: "AAAA"), 401, field: "/nonce")
        }
    }

    /// How many spent-challenge rows hold `nonce`'s hash.
    static func storedChallenges(_ nonce: String) async throws -> Int64 {
        try await TestApp.withOwner { database in
            try await database.withoutTenant(logger: TestApp.logger) { tx in
                let hash = Data(SHA256.hash(data: Data(nonce.utf8)))
                let rows = try await tx.query("SELECT count(*) FROM agent_challenges WHERE nonce_hash = \(hash)")
                var count: Int64 = -1
                for try await value in rows.decode(Int64.self) { count = value }
                return count
            }
        }
    }

    @Test("enrollment tokens expire after 7 days and allow 100 uses unless an admin explicitly chooses otherwise")
    func enrollmentTokenDefaults() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let path = "/v1/tenants/\(tenant)/enrollment-tokens"
            let plain = try await client.call(.post, path, key: key, body: #"{"name":"default"}"#)
            let token = try #require(plain.json["token"] as? [String: any Sendable])
            #expect(token["max_uses"] as? Double == 100)
            let expiresAt = try #require((token["expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiresAt.timeIntervalSinceNow - 7 * 86_400) < 120)

            let open = try await client.call(.post, path, key: key, body: #"{"name":"open","no_expiry":true,"unlimited_uses":true}"#)
            let unlimited = try #require(open.json["token"] as? [String: any Sendable])
            #expect(unlimited["max_uses"] == nil)
            #expect(unlimited["expires_at"] == nil)

            let both = try await client.call(.post, path, key: key, body: #"{"name":"x","max_uses":5,"unlimited_uses":true}"#)
            expectProblem(both, 422, field: "/unlimited_uses")
            let never = try await client.call(.post, path, key: key, body: #"{"name":"x","expires_at":"2099-01-01T00:00:00Z","no_expiry":true}"#)
            expectProblem(never, 422, field: "/no_expiry")
        }
    }
}

/// Issue 14, item 8: what docs/agent-protocol.md promises about refused keys holds, and no answer names a
/// table, constraint or SQLSTATE.
@Suite("Agent contract")
struct AgentContractTests {
    /// Low-order X25519 points (RFC 7748 §6.1; the list of cr.yp.to/ecdh.html): each gives an all-zero shared secret.
    static let lowOrderPoints = [
        String(repeating: "00", count: 32),
        "01" + String(repeating: "00", count: 31),
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ]

    static func hex(_ text: String) -> Data {
        Data(stride(from: 0, to: text.count, by: 2).map { offset in
            let start = text.index(text.startIndex, offsetBy: offset)
            return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
        })
    }

    @Test("enrollment refuses a low-order X25519 key with 422 at /encryption_key/x", arguments: lowOrderPoints)
    func lowOrderKey(point: String) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: world.tenantKeys[0])
            let device = TestDevice()
            let sig = String(decoding: JWK(device.signingKey.publicKey).jsonData, as: UTF8.self)
            let body = """
                {"enrollment_token":"\(token.secret)","hostname":"PC","agent_version":"1",
                 "encryption_key":{"kty":"OKP","crv":"X25519","x":"\(Base64URL.encode(Self.hex(point)))"},"signing_key":\(sig)}
                """
            expectProblem(try await client.call(.post, "/v1/agent/enroll", body: body), 422, field: "/encryption_key/x")
            let devices = try await client.call(.get, "/v1/tenants/\(tenant)/devices", key: world.tenantKeys[0])
            #expect(devices.items.isEmpty)
        }
    }

    @Test("another device's signing key is refused with 422 at /signing_key, naming no constraint")
    func duplicateSigningKey() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await EndpointTests.createToken(client, tenant: tenant, key: world.tenantKeys[0])
            var first = TestDevice()
            try await first.enroll(client, token: token.secret, hostname: "PC-1")
            let copy = TestDevice()
            let enc = String(decoding: JWK(copy.encryptionKey.publicKey).jsonData, as: UTF8.self)
            let sig = String(decoding: JWK(first.signingKey.publicKey).jsonData, as: UTF8.self)
            let body = """
                {"enrollment_token":"\(token.secret)","hostname":"PC-2","agent_version":"1",
                 "encryption_key":\(enc),"signing_key":\(sig)}
                """
            let answer = try await client.call(.post, "/v1/agent/enroll", body: body)
            expectProblem(answer, 422, field: "/signing_key")
            let text = "\(answer.json)"
            for leak in ["devices_", "constraint", "23505", "unique", "SQLSTATE"] {
                #expect(!text.lowercased().contains(leak.lowercased()), "\(text)")
            }
        }
    }
}
