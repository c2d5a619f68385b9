import AsyncHTTPClient
import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServer
import CharterStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

/// A connector as the tests drive it: its own Ed25519 key, the token the service gave it.
struct TestConnector {
    var signingKey = Curve25519.Signing.PrivateKey()
    var id = ""
    var token = ""

    var jwk: String { String(decoding: JWK(signingKey.publicKey).jsonData, as: UTF8.self) }
    var thumbprint: String { JWK(signingKey.publicKey).thumbprint }

    func enrollBody(token enrollmentToken: String, name: String = "Site A connector 1", extra: String = "") -> String {
        #"{"enrollment_token":"\#(enrollmentToken)","name":"\#(name)","hostname":"conn1.corp.example","version":"1.4.0",\#(extra)"signing_key":\#(jwk)}"#
    }

    /// Enrolls and keeps the id and token; expects `status`.
    mutating func enroll(
        _ client: some TestClientProtocol, token enrollmentToken: String, extra: String = "", status: Int = 201,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let answer = try await client.call(
            .post, "/v1/connector/enroll", body: enrollBody(token: enrollmentToken, extra: extra)
        )
        try #require(answer.status.code == status, "\(answer.json)", sourceLocation: sourceLocation)
        id = try #require(answer.json["connector_id"] as? String)
        token = try #require(answer.json["connector_token"] as? String)
    }

    func sign(_ message: String) throws -> String {
        Base64URL.encode(try signingKey.signature(for: Data(message.utf8)))
    }
}

/// Issue 16, item 2: connectors enroll with a connector enrollment token and a key of their own, renew their
/// short-lived tokens by signature, heartbeat to hold the lease of the connections they serve, receive their
/// commands on a stream of their own, and are listed and revoked by the tenant's administrators.
@Suite("Connector identity")
struct ConnectorIdentityTests {
    static let heartbeatBody =
        #"{"version":"1.4.0","hostname":"conn1.corp.example","domain_controllers":[{"url":"ldaps://dc1.corp.example","reachable":true,"checked_at":"2026-12-07T10:15:00Z"},{"url":"ldaps://dc2.corp.example","reachable":false,"checked_at":"2026-12-07T10:15:00Z","error":"connect failed"}]}"#

    /// A connector enrollment token of the tenant.
    static func connectorToken(
        _ client: some TestClientProtocol, tenant: TenantID, key: String, extra: String = ""
    ) async throws -> (id: String, secret: String) {
        try await EndpointTests.createToken(
            client, tenant: tenant, key: key, body: #"{"name":"site A",\#(extra)"purpose":"connector"}"#
        )
    }

    /// A fresh challenge.
    static func nonce(_ client: some TestClientProtocol) async throws -> String {
        let answer = try await client.call(.post, "/v1/connector/challenge")
        try #require(answer.status == .ok, "\(answer.json)")
        return try #require(answer.json["nonce"] as? String)
    }

    /// `POST /v1/connector/token` signed by `signer`'s key for `connector`.
    static func renew(
        _ client: some TestClientProtocol, _ connector: TestConnector, signer: TestConnector? = nil, nonce: String? = nil
    ) async throws -> Answer {
        var given = nonce
        if given == nil { given = try await Self.nonce(client) }
        let nonce = try #require(given)
        let signature = try (signer ?? connector).sign(ConnectorProtocol.tokenMessage(nonce: nonce, connectorID: connector.id))
        return try await client.call(
            .post, "/v1/connector/token",
            body: #"{"connector_id":"\#(connector.id)","nonce":"\#(nonce)","signature":"\#(signature)"}"#
        )
    }

    /// A `proof` member re-enrolling `current` with `next`'s key, signed by `signer` (normally `current`).
    static func proof(
        _ client: some TestClientProtocol, current: TestConnector, next: TestConnector, signer: TestConnector? = nil,
        nonce: String? = nil
    ) async throws -> String {
        var given = nonce
        if given == nil { given = try await Self.nonce(client) }
        let nonce = try #require(given)
        let message = ConnectorProtocol.reenrollmentMessage(
            nonce: nonce, connectorID: current.id, newKeyThumbprint: next.thumbprint
        )
        let signature = try (signer ?? current).sign(message)
        return #""proof":{"connector_id":"\#(current.id)","nonce":"\#(nonce)","signature":"\#(signature)"},"#
    }

    static func heartbeat(
        _ client: some TestClientProtocol, _ connector: TestConnector, body: String = heartbeatBody,
        headers: HTTPFields = [:]
    ) async throws -> Answer {
        try await client.call(.post, "/v1/connector/heartbeat", key: connector.token, body: body, headers: headers)
    }

    @Test("a connector token allows one enrollment within 24 hours; the connector heartbeats and shows in the admin API")
    func enrollAndHeartbeat() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let created = try await client.call(
                .post, "/v1/tenants/\(tenant)/enrollment-tokens", key: key, body: #"{"name":"site A","purpose":"connector"}"#
            )
            #expect(created.status == .created)
            let token = try #require(created.json["token"] as? [String: any Sendable])
            #expect(token["purpose"] as? String == "connector")
            #expect(token["max_uses"] as? Double == 1)
            let expiresAt = try #require((token["expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
            #expect(abs(expiresAt.timeIntervalSinceNow - 86_400) < 120)
            let secret = try #require(created.json["secret"] as? String)

            var connector = TestConnector()
            let enrolled = try await client.call(.post, "/v1/connector/enroll", body: connector.enrollBody(token: secret))
            #expect(enrolled.status == .created, "\(enrolled.json)")
            connector.id = try #require(enrolled.json["connector_id"] as? String)
            connector.token = try #require(enrolled.json["connector_token"] as? String)
            #expect(connector.token.hasPrefix("chtk_"))
            #expect(enrolled.json["tenant_id"] as? String == tenant.description)
            #expect(enrolled.json["heartbeat_seconds"] as? Double == 10)
            #expect((enrolled.json["protocol"] as? [String: any Sendable])?["minimum"] as? Double == 1)
            let tokenExpiry = try #require(
                (enrolled.json["token_expires_at"] as? String).flatMap { try? Date($0, strategy: .iso8601) }
            )
            #expect(abs(tokenExpiry.timeIntervalSinceNow - 86_400) < 120)

            // The token is used up.
            var second = TestConnector()
            let again = try await client.call(.post, "/v1/connector/enroll", body: second.enrollBody(token: secret))
            expectProblem(again, 401, field: "/enrollment_token")
            second.id = ""

            let before = try await client.call(.get, "/v1/tenants/\(tenant)/connectors/\(connector.id)", key: key)
            #expect(before.json["status"] as? String == "offline")
            let beat = try await Self.heartbeat(client, connector)
            #expect(beat.status == .ok, "\(beat.json)")
            #expect((beat.json["connections"] as? [any Sendable])?.isEmpty == true)
            #expect(beat.json["heartbeat_seconds"] as? Double == 10)

            let read = try await client.call(.get, "/v1/tenants/\(tenant)/connectors/\(connector.id)", key: key)
            #expect(read.status == .ok)
            #expect(read.json["status"] as? String == "online")
            #expect(read.json["name"] as? String == "Site A connector 1")
            #expect(read.json["hostname"] as? String == "conn1.corp.example")
            #expect(read.json["version"] as? String == "1.4.0")
            #expect(read.json["protocol_version"] as? Double == 1)
            #expect(read.json["signing_key_thumbprint"] as? String == connector.thumbprint)
            #expect(read.json["last_seen_at"] is String)
            let controllers = try #require(read.json["domain_controllers"] as? [[String: any Sendable]])
            #expect(controllers.map { $0["url"] as? String } == ["ldaps://dc1.corp.example", "ldaps://dc2.corp.example"])
            #expect(controllers[1]["error"] as? String == "connect failed")
            #expect((read.json["connections"] as? [any Sendable])?.isEmpty == true)

            let list = try await client.call(.get, "/v1/tenants/\(tenant)/connectors", key: key)
            #expect(list.items.map { $0["id"] as? String } == [connector.id])
            let audit = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=connector.enrolled", key: key)
            #expect(audit.items.count == 1)
        }
    }

    @Test("device and connector credentials are not interchangeable")
    func purposeMismatch() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let deviceToken = try await EndpointTests.createToken(client, tenant: tenant, key: key)
            let connectorToken = try await Self.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":5,"#)

            let connector = TestConnector()
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: connector.enrollBody(token: deviceToken.secret)),
                401, field: "/enrollment_token"
            )
            var device = TestDevice()
            let refused = try await client.call(
                .post, "/v1/agent/enroll", body: device.enrollBody(token: connectorToken.secret, hostname: "PC-1")
            )
            expectProblem(refused, 401, field: "/enrollment_token")
            // Neither refusal spent a use.
            let tokens = try await client.call(.get, "/v1/tenants/\(tenant)/enrollment-tokens", key: key)
            #expect(tokens.items.allSatisfy { $0["uses"] as? Double == 0 })
            #expect(Set(tokens.items.compactMap { $0["purpose"] as? String }) == ["device", "connector"])

            try await device.enroll(client, token: deviceToken.secret, hostname: "PC-1")
            var enrolled = TestConnector()
            try await enrolled.enroll(client, token: connectorToken.secret)

            let deviceOnConnector = try await Self.heartbeat(client, TestConnector(id: device.id, token: device.token))
            expectProblem(deviceOnConnector, 401)
            #expect(deviceOnConnector.headers[.wwwAuthenticate] == #"Bearer realm="charter-connector""#)
            expectProblem(try await client.call(.get, "/v1/agent/bundle", key: enrolled.token), 401)
            expectProblem(try await client.call(.get, "/v1/agent/events", key: enrolled.token), 401)
            expectProblem(try await client.call(.get, "/v1/tenants/\(tenant)/connectors", key: enrolled.token), 401)
            expectProblem(try await client.call(.get, "/v1/connector/events", key: key), 401)
        }
    }

    @Test("re-enrollment with a signature by the current key keeps the id; without it a new connector; a forged or replayed proof is refused")
    func reenrollment() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":10,"#)
            var original = TestConnector()
            try await original.enroll(client, token: token.secret)

            // The same key again, without proof: another connector already has it.
            let duplicate = try await client.call(.post, "/v1/connector/enroll", body: original.enrollBody(token: token.secret))
            expectProblem(duplicate, 409, field: "/signing_key")
            #expect(duplicate.json["code"] as? String == "signing-key-taken")

            var next = TestConnector()
            let forged = try await Self.proof(client, current: original, next: next, signer: TestConnector())
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: next.enrollBody(token: token.secret, extra: forged)),
                422, field: "/proof/signature"
            )
            // A proof over another key than the one enrolled does not hold either.
            let otherKey = try await Self.proof(client, current: original, next: TestConnector())
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: next.enrollBody(token: token.secret, extra: otherKey)),
                422, field: "/proof/signature"
            )

            let nonce = try await Self.nonce(client)
            let proof = try await Self.proof(client, current: original, next: next, nonce: nonce)
            try await next.enroll(client, token: token.secret, extra: proof, status: 200)
            #expect(next.id == original.id)
            expectProblem(try await Self.heartbeat(client, original), 401)
            #expect(try await Self.heartbeat(client, next).status == .ok)

            var third = TestConnector()
            let replayed = try await Self.proof(client, current: next, next: third, nonce: nonce)
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: third.enrollBody(token: token.secret, extra: replayed)),
                422, field: "/proof/nonce"
            )
            // The old key no longer proves anything.
            let stale = try await Self.proof(client, current: next, next: third, signer: original)
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: third.enrollBody(token: token.secret, extra: stale)),
                422, field: "/proof/signature"
            )
            // Without proof, a new key is a new connector.
            try await third.enroll(client, token: token.secret)
            #expect(third.id != original.id)

            let audit = try await client.call(.get, "/v1/tenants/\(tenant)/audit-events?action=connector.reenrolled", key: key)
            #expect(audit.items.count == 1)
            let list = try await client.call(.get, "/v1/tenants/\(tenant)/connectors", key: key)
            #expect(list.items.count == 2)
        }
    }

    @Test("a connector renews its token by signature; the old one works until its expiry; an expired one gets token-expired")
    func tokenRenewal() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.connectorToken(client, tenant: tenant, key: key)
            var connector = TestConnector()
            try await connector.enroll(client, token: token.secret)

            expectProblem(try await Self.renew(client, connector, signer: TestConnector()), 401)
            let nonce = try await Self.nonce(client)
            let renewed = try await Self.renew(client, connector, nonce: nonce)
            #expect(renewed.status == .ok, "\(renewed.json)")
            let fresh = try #require(renewed.json["connector_token"] as? String)
            #expect(fresh != connector.token)
            #expect(renewed.json["token_expires_at"] is String)
            expectProblem(try await Self.renew(client, connector, nonce: nonce), 401, field: "/nonce")
            // The replaced token keeps working until its own expiry.
            #expect(try await Self.heartbeat(client, connector).status == .ok)
            var current = connector
            current.token = fresh
            #expect(try await Self.heartbeat(client, current).status == .ok)

            try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.query(
                        """
                        UPDATE connectors SET token_expires_at = now() - interval '1 second',
                            previous_token_expires_at = now() - interval '1 second'
                        WHERE tenant_id = \(tenant.rawValue)
                        """
                    )
                }
            }
            for stale in [connector, current] {
                let expired = try await Self.heartbeat(client, stale)
                expectProblem(expired, 401)
                #expect(expired.json["code"] as? String == "token-expired")
                #expect(
                    expired.headers[.wwwAuthenticate]
                        == #"Bearer realm="charter-connector", error="invalid_token", error_description="expired""#
                )
            }
            let again = try await Self.renew(client, connector)
            #expect(again.status == .ok)
            current.token = try #require(again.json["connector_token"] as? String)
            #expect(try await Self.heartbeat(client, current).status == .ok)
        }
    }

    @Test("another tenant's administrator can neither read nor revoke a connector")
    func tenantIsolation() async throws {
        let world = try await TestApp.makeWorld(tenants: 2)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.connectorToken(client, tenant: tenant, key: key)
            var connector = TestConnector()
            try await connector.enroll(client, token: token.secret)
            let other = world.tenantKeys[1]
            for path in ["/v1/tenants/\(tenant)/connectors", "/v1/tenants/\(tenant)/connectors/\(connector.id)"] {
                expectProblem(try await client.call(.get, path, key: other), 404)
            }
            expectProblem(try await client.call(.post, "/v1/tenants/\(tenant)/connectors/\(connector.id)/revoke", key: other), 404)
            // Its own tenant's path with the connector's id: no such connector there.
            let foreign = world.tenants[1]
            expectProblem(try await client.call(.get, "/v1/tenants/\(foreign)/connectors/\(connector.id)", key: other), 404)
            expectProblem(try await client.call(.post, "/v1/tenants/\(foreign)/connectors/\(connector.id)/revoke", key: other), 404)
            #expect(try await Self.heartbeat(client, connector).status == .ok)
            #expect(try await client.call(.get, "/v1/tenants/\(foreign)/connectors", key: other).items.isEmpty)
        }
    }

    @Test("a connector below the service's protocol range gets 426; a newer one is served")
    func protocolVersions() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":3,"#)
            var connector = TestConnector()
            let old: HTTPFields = [HTTPField.Name("Charter-Connector-Protocol")!: "0"]
            let refusedEnroll = try await client.call(
                .post, "/v1/connector/enroll", body: connector.enrollBody(token: token.secret), headers: old
            )
            expectProblem(refusedEnroll, 426)
            #expect(refusedEnroll.json["code"] as? String == "connector-update-required")
            try await connector.enroll(client, token: token.secret)
            let refused = try await Self.heartbeat(client, connector, headers: old)
            expectProblem(refused, 426)
            #expect(refused.json["code"] as? String == "connector-update-required")
            // Its stream is only the update hint.
            var pollHeaders = old
            pollHeaders[.accept] = "application/json"
            let hint = try await client.call(.get, "/v1/connector/events?wait=0", key: connector.token, headers: pollHeaders)
            #expect(hint.status == .ok, "\(hint.json)")
            let events = (hint.json["events"] as? [[String: any Sendable]]) ?? []
            #expect(events.map { $0["event"] as? String } == ["update"])
            #expect((events.first?["data"] as? [String: any Sendable])?["minimum"] as? Double == 1)
            // Renewal still works for an outdated connector.
            #expect(try await Self.renew(client, connector).status == .ok)
            expectProblem(
                try await Self.heartbeat(client, connector, headers: [HTTPField.Name("Charter-Connector-Protocol")!: "one"]),
                400
            )
            let newer = try await Self.heartbeat(client, connector, headers: [HTTPField.Name("Charter-Connector-Protocol")!: "7"])
            #expect(newer.status == .ok)
            let read = try await client.call(.get, "/v1/tenants/\(tenant)/connectors/\(connector.id)", key: key)
            #expect(read.json["protocol_version"] as? Double == 1)
        }
    }

    @Test("malformed enrollments and heartbeats are refused with the field that breaks a rule")
    func malformedBodies() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        try await TestApp.run(TestApp.sealingConfig) { client in
            let token = try await Self.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":3,"#)
            var connector = TestConnector()
            let longName = String(repeating: "n", count: 201)
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: connector.enrollBody(token: token.secret, name: longName)),
                422, field: "/name"
            )
            let x25519 = String(decoding: JWK(Curve25519.KeyAgreement.PrivateKey().publicKey).jsonData, as: UTF8.self)
            let wrongCurve = #"{"enrollment_token":"\#(token.secret)","name":"a","hostname":"h","version":"1","signing_key":\#(x25519)}"#
            expectProblem(try await client.call(.post, "/v1/connector/enroll", body: wrongCurve), 422, field: "/signing_key/crv")
            let unknown = connector.enrollBody(token: token.secret, extra: #""admin":true,"#)
            expectProblem(try await client.call(.post, "/v1/connector/enroll", body: unknown), 400)
            let badProof = #""proof":{"connector_id":"not-a-uuid","nonce":"x","signature":"y"},"#
            expectProblem(
                try await client.call(.post, "/v1/connector/enroll", body: connector.enrollBody(token: token.secret, extra: badProof)),
                422, field: "/proof/connector_id"
            )
            try await connector.enroll(client, token: token.secret)

            let controller = #"{"url":"ldaps://dc.corp.example","reachable":true,"checked_at":"2026-12-07T10:15:00Z"}"#
            let eleven = Array(repeating: controller, count: 11).joined(separator: ",")
            expectProblem(
                try await Self.heartbeat(client, connector, body: #"{"version":"1","hostname":"h","domain_controllers":[\#(eleven)]}"#),
                422, field: "/domain_controllers"
            )
            let longURL = String(repeating: "u", count: 2001)
            expectProblem(
                try await Self.heartbeat(
                    client, connector,
                    body: #"{"version":"1","hostname":"h","domain_controllers":[{"url":"\#(longURL)","reachable":true,"checked_at":"2026-12-07T10:15:00Z"}]}"#
                ),
                422, field: "/domain_controllers/0/url"
            )
            let longError = String(repeating: "e", count: 501)
            expectProblem(
                try await Self.heartbeat(
                    client, connector,
                    body: #"{"version":"1","hostname":"h","domain_controllers":[{"url":"ldap://dc","reachable":false,"checked_at":"2026-12-07T10:15:00Z","error":"\#(longError)"}]}"#
                ),
                422, field: "/domain_controllers/0/error"
            )
            expectProblem(
                try await Self.heartbeat(client, connector, body: #"{"version":"","hostname":"h","domain_controllers":[]}"#),
                422, field: "/version"
            )
            let missing = try await Self.heartbeat(client, connector, body: #"{"version":"1","domain_controllers":[]}"#)
            expectProblem(missing, 400, field: "/hostname")
            expectProblem(
                try await client.call(.post, "/v1/connector/token", body: #"{"connector_id":"x","nonce":"n","signature":"s"}"#),
                422, field: "/connector_id"
            )
        }
    }
}

extension ConnectorIdentityTests {
    @Test("a tenant enrolls at most quota.connectors_per_tenant connectors that are not revoked")
    func quota() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let key = world.tenantKeys[0]
        var config = TestApp.sealingConfig
        config.limits.quotas.connectorsPerTenant = 1
        try await TestApp.run(config) { client in
            let token = try await Self.connectorToken(client, tenant: tenant, key: key, extra: #""max_uses":3,"#)
            var first = TestConnector()
            try await first.enroll(client, token: token.secret)
            let second = TestConnector()
            let refused = try await client.call(.post, "/v1/connector/enroll", body: second.enrollBody(token: token.secret))
            expectProblem(refused, 409)
            #expect(refused.json["code"] as? String == "quota-exceeded")
            #expect((refused.json["detail"] as? String)?.contains("quota.connectors_per_tenant") == true)
            // Re-enrolling the existing one is not counted.
            var rekeyed = TestConnector()
            let proof = try await Self.proof(client, current: first, next: rekeyed)
            try await rekeyed.enroll(client, token: token.secret, extra: proof, status: 200)
            #expect(
                try await client.call(.post, "/v1/tenants/\(tenant)/connectors/\(first.id)/revoke", key: key).status == .ok
            )
            var third = TestConnector()
            try await third.enroll(client, token: token.secret)
        }
    }
}
