import CharterAgentWire
import CharterBundle
import Crypto
import Foundation
import Testing

@testable import CharterAgent

/// The members of an encoded request body.
private func members(_ body: some Encodable) throws -> [String: JSONValue] {
    try #require(JSONDecoder().decode(JSONValue.self, from: AgentClient.encode(body)).objectValue)
}

@Suite("Agent request and answer bodies")
struct WireTests {
    @Test("enrollment sends exactly the documented members, public keys with kty, crv, x and use only")
    func enrollRequest() throws {
        let encryption = Curve25519.KeyAgreement.PrivateKey()
        let signing = Curve25519.Signing.PrivateKey()
        let body = EnrollRequest(
            enrollmentToken: "chte_x",
            hostname: "WS-0042",
            computerSID: nil,
            computerGUID: "9a1c4f2e-5b7d-4e8a-9c3b-2d1e0f6a7b8c",
            os: nil,
            agentVersion: "1.0.0",
            encryptionKey: try AgentClient.publicJWK(curve: .x25519, x: encryption.publicKey.rawRepresentation, use: .encryption),
            signingKey: try AgentClient.publicJWK(curve: .ed25519, x: signing.publicKey.rawRepresentation, use: .signature)
        )
        let json = try members(body)
        #expect(Set(json.keys) == ["enrollment_token", "hostname", "computer_guid", "agent_version", "encryption_key", "signing_key"])
        #expect(
            json["encryption_key"]
                == .object([
                    "kty": "OKP", "crv": "X25519", "use": "enc",
                    "x": .string(Base64URL.encode(encryption.publicKey.rawRepresentation)),
                ])
        )
        #expect(json["signing_key"]?["crv"] == "Ed25519")
        #expect(json["signing_key"]?["use"] == "sig")
    }

    @Test("check-in leaves bundle_version out before the first bundle")
    func checkinRequest() throws {
        #expect(try members(CheckinRequest(agentVersion: "1", bundleVersion: nil, users: [])).keys.sorted() == ["agent_version", "users"])
        let json = try members(CheckinRequest(agentVersion: "1", bundleVersion: 7, users: [CheckinUser(upn: "ann@corp.example")]))
        #expect(json["bundle_version"] == .integer(7))
        #expect(json["users"] == .array([.object(["upn": "ann@corp.example"])]))
    }

    @Test("audit events use the documented names and RFC 3339 times")
    func auditEvent() throws {
        let event = AuditEvent(
            id: UUID(uuidString: "6b0f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f") ?? UUID(),
            type: "run_as_admin.audit_only",
            occurredAt: Date(timeIntervalSince1970: 1_795_947_302),
            user: .init(sid: "S-1-5-21-1-2-3-1104"),
            application: .init(fileName: "setup.exe", sha256: "ab")
        )
        let json = try #require(try members(AuditUpload(events: [event]))["events"]?.arrayValue?.first)
        #expect(json["occurred_at"] == "2026-11-29T10:15:02Z")
        #expect(json["application"] == .object(["file_name": "setup.exe", "sha256": "ab"]))
        #expect(json["user"] == .object(["sid": "S-1-5-21-1-2-3-1104"]))
        #expect(json["details"] == nil)
        #expect(json["id"]?.stringValue?.lowercased() == "6b0f3c1e-8d2a-4f5b-9c7e-1a2b3c4d5e6f")
    }

    @Test("a rejected bundle is reported with its code")
    func bundleRejected() {
        let event = AuditEvent.bundleRejected(.versionDowngrade(held: 8, received: 7), at: Date())
        #expect(event.type == "bundle.rejected")
        #expect(event.details?["code"] == "bundle.version_downgrade")
    }

    @Test("enrollment keys are pinned with their status; plain JWKs as active; other curves skipped")
    func pinnedKeys() throws {
        let active = JWK(Curve25519.Signing.PrivateKey().publicKey)
        let next = JWK(Curve25519.Signing.PrivateKey().publicKey)
        let plain = JWK(Curve25519.Signing.PrivateKey().publicKey)
        let x25519 = JWK(Curve25519.KeyAgreement.PrivateKey().publicKey)
        func entry(_ key: JWK, _ extra: [String: JSONValue] = [:]) throws -> JSONValue {
            var members = try JSONDecoder().decode(JSONValue.self, from: key.jsonData).objectValue ?? [:]
            members.merge(extra) { $1 }
            return .object(members)
        }
        let set = SigningKeySet(keys: [
            try entry(active, ["status": "active"]),
            try entry(next, ["status": "next", "nbf": .integer(1_767_225_600)]),
            try entry(plain),
            try entry(x25519),
        ])
        let pinned = try set.pinnedKeys()
        #expect(pinned.map(\.keyID) == [active.thumbprint, next.thumbprint, plain.thumbprint])
        #expect(pinned.map(\.status) == [.active, .next, .active])
        #expect(pinned[1].notBefore == Date(timeIntervalSince1970: 1_767_225_600))
    }

    @Test("an enrollment answer without an Ed25519 key, or with a broken one, is refused")
    func noSigningKey() {
        #expect(throws: AgentError.self) { try SigningKeySet(keys: []).pinnedKeys() }
        #expect(throws: AgentError.self) {
            try SigningKeySet(keys: [.object(["kty": "OKP", "crv": "Ed25519", "x": "AAAA", "status": "active"])]).pinnedKeys()
        }
    }

    @Test("the enrollment answer decodes; computer may be null")
    func enrollAnswer() throws {
        let key = JWK(Curve25519.Signing.PrivateKey().publicKey)
        let keyJSON = String(decoding: key.jsonData, as: UTF8.self)
        let json = """
            {"device_id":"d","device_token":"chtd_t","tenant_id":"t","issuer":"urn:charter:tenant:t",
             "signing_keys":{"keys":[\(keyJSON)]},"computer":null,"future":1}
            """
        let answer = try JSONDecoder().decode(EnrollAnswer.self, from: Data(json.utf8))
        #expect(answer.computer == nil)
        #expect(try answer.signingKeys.pinnedKeys().map(\.keyID) == [key.thumbprint])
    }

    @Test("a check-in answer before any bundle has no version")
    func checkinAnswer() throws {
        let answer = try JSONDecoder().decode(CheckinResult.self, from: Data(#"{"device_id":"d","checkin_seconds":300}"#.utf8))
        #expect(answer.bundleVersion == nil)
        #expect(answer.checkinSeconds == 300)
    }

    @Test("a request sends the documented members; an admin session leaves application out")
    func elevationRequest() throws {
        let installer = ElevationRequest(
            kind: .runAsAdmin,
            user: CheckinUser(sid: "S-1-5-21-1-2-3-1104"),
            application: .init(fileName: "setup.exe", path: #"C:\Temp\setup.exe"#, certificateThumbprint: "AA:BB"),
            reason: "customer visit"
        )
        let json = try members(installer)
        #expect(Set(json.keys) == ["kind", "user", "application", "reason"])
        #expect(json["kind"] == "run_as_admin")
        #expect(
            json["application"]
                == .object(["file_name": "setup.exe", "path": #"C:\Temp\setup.exe"#, "certificate_thumbprint": "AA:BB"])
        )
        let session = try members(ElevationRequest(kind: .adminSession, user: CheckinUser(upn: "ann@corp.example")))
        #expect(session == ["kind": "admin_session", "user": .object(["upn": "ann@corp.example"])])
    }

    @Test("a request answer decodes with its RFC 3339 times; unknown members are ignored")
    func elevationAnswer() throws {
        let json = """
            {"id":"a7c3","kind":"admin_session","status":"approved","logged":true,"pin_override":false,
             "explanation":"mode approval_required","policy":"global","session_minutes":30,
             "expires_at":"2026-11-29T11:15:02Z","decided_at":"2026-11-29T10:20:00Z","comment":"ok","future":1}
            """
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let answer = try decoder.decode(ElevationRequest.Answer.self, from: Data(json.utf8))
        #expect(answer.kind == .adminSession && answer.status == .approved)
        #expect(answer.sessionMinutes == 30 && answer.comment == "ok")
        #expect(answer.decidedAt == Date(timeIntervalSince1970: 1_795_947_600))
        let pending = try decoder.decode(
            ElevationRequest.Answer.self,
            from: Data(#"{"id":"b","kind":"run_as_admin","status":"pending","logged":true,"pin_override":false,"explanation":"e","policy":"p"}"#.utf8)
        )
        #expect(pending.expiresAt == nil && pending.decidedAt == nil)
    }

    @Test("a request body reads any kind, for the service to refuse an unknown one by name, and no unknown member")
    func requestSubmission() throws {
        let sudo = try JSONDecoder().decode(RequestSubmission.self, from: Data(#"{"kind":"sudo","user":{"upn":"a"}}"#.utf8))
        #expect(sudo.kind == RequestKind(rawValue: "sudo") && sudo.kind != .runAsAdmin && sudo.application == nil)
        for json in [
            #"{"kind":"admin_session","user":{"upn":"a"},"extra":1}"#,
            #"{"kind":"run_as_admin","user":{"upn":"a"},"application":{"file_name":"a.exe","size":1}}"#,
        ] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(RequestSubmission.self, from: Data(json.utf8)) }
        }
    }

    @Test("request bodies refuse a member the protocol does not name", arguments: [
        #"{"agent_version":"1","users":[],"extra":1}"#,
        #"{"agent_version":"1","users":[{"upn":"ann@corp.example","name":"Ann"}]}"#,
    ])
    func strictRequests(json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CheckinRequest.self, from: Data(json.utf8)) }
    }

    @Test("a check-in without users reads as none")
    func checkinWithoutUsers() throws {
        let request = try JSONDecoder().decode(CheckinRequest.self, from: Data(#"{"agent_version":"1"}"#.utf8))
        #expect(request.users.isEmpty && request.bundleVersion == nil)
    }

    @Test("the enrollment answer writes computer as null and leaves nothing else out")
    func enrollAnswerEncoding() throws {
        let answer = EnrollAnswer(
            deviceID: "d", deviceToken: "chtd_t", tokenExpiresAt: Date(timeIntervalSince1970: 1_795_947_302),
            status: "active", tenantID: "t", issuer: "urn:charter:tenant:t", signingKeys: .init(keys: []), computer: nil
        )
        let json = try members(answer)
        #expect(json["computer"] == .null)
        #expect(
            Set(json.keys) == ["device_id", "device_token", "token_expires_at", "status", "tenant_id", "issuer", "signing_keys", "computer"]
        )
        #expect(json["token_expires_at"] == "2026-11-29T10:15:02Z")
    }
}
