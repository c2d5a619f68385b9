import CharterAgentWire
import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Crypto
import Foundation

extension CheckinUser {
    /// The validated user; `field` is the pointer of this entry.
    func deviceUser(field: String) throws -> DeviceUser {
        let sid = try sid.map { try AgentValidation.sid($0, field: field + "/sid") }
        let guid = try guid.map { raw -> ObjectGUID in
            guard let guid = ObjectGUID(raw) else {
                throw Problem(.validationFailed, "guid must be an objectGUID in UUID form.", field: field + "/guid")
            }
            return guid
        }
        if let upn, upn.isEmpty || upn.count > 1024 || upn.contains(where: \.isNewline) {
            throw Problem(.validationFailed, "upn must have 1 to 1024 characters.", field: field + "/upn")
        }
        let user = DeviceUser(sid: sid, guid: guid, upn: upn)
        guard user.identity != nil else {
            throw Problem(.validationFailed, "A user needs at least one of sid, guid and upn.", field: field)
        }
        return user
    }
}

// MARK: - Validation

extension EnrollRequest {
    /// The validated enrollment; every failure names its field.
    func validated() throws -> EndpointService.Enrollment {
        guard let secret = EnrollmentTokenSecret(parsing: enrollmentToken) else {
            throw EndpointError.invalidEnrollmentToken
        }
        // Checked in this order, so that the first bad member is the one reported.
        let hostname = try AgentValidation.text(self.hostname, field: "/hostname", maximum: 253)
        let agentVersion = try AgentValidation.text(self.agentVersion, field: "/agent_version", maximum: 64)
        let os = try self.os.map { try AgentValidation.text($0, field: "/os", maximum: 200) }
        let sid = try computerSID.map { try AgentValidation.sid($0, field: "/computer_sid") }
        let guid = try computerGUID.map { raw -> ObjectGUID in
            guard let guid = ObjectGUID(raw) else {
                throw Problem(.validationFailed, "computer_guid must be an objectGUID in UUID form.", field: "/computer_guid")
            }
            return guid
        }
        let encryptionKey = try AgentValidation.key(self.encryptionKey, curve: .x25519, field: "/encryption_key")
        let signingKey = try AgentValidation.key(self.signingKey, curve: .ed25519, field: "/signing_key")
        let proof = try self.proof.map { proof in
            guard let device = DeviceID(proof.deviceID) else {
                throw Problem(.validationFailed, "proof.device_id must be the device id (a UUID).", field: "/proof/device_id")
            }
            return EndpointService.Enrollment.Proof(device: device, nonce: proof.nonce, signature: proof.signature)
        }
        return EndpointService.Enrollment(
            secret: secret, hostname: hostname, os: os, agentVersion: agentVersion, computerSID: sid, computerGUID: guid,
            encryptionKey: encryptionKey.x, signingKey: signingKey.x, proof: proof
        )
    }
}

extension CheckinRequest {
    /// How many users one check-in may report.
    static let maximumUsers = 200

    /// The validated users; every failure names its field.
    func validated() throws -> [DeviceUser] {
        _ = try AgentValidation.text(agentVersion, field: "/agent_version", maximum: 64)
        guard users.count <= Self.maximumUsers else {
            throw Problem(.validationFailed, "At most \(Self.maximumUsers) users per check-in.", field: "/users")
        }
        if let bundleVersion, bundleVersion < 0 {
            throw Problem(.validationFailed, "bundle_version cannot be negative.", field: "/bundle_version")
        }
        return try users.enumerated().map { index, user in try user.deviceUser(field: "/users/\(index)") }
    }
}

extension AuditUpload {
    /// How many events one upload may carry.
    static let maximumEvents = 500

    /// The events as the audit log keeps them, each once; every failure names its field.
    func validated() throws -> [EndpointService.EndpointEvent] {
        guard (1...Self.maximumEvents).contains(events.count) else {
            throw Problem(.validationFailed, "Send 1 to \(Self.maximumEvents) events per call.", field: "/events")
        }
        var seen: Set<UUID> = []
        var records: [EndpointService.EndpointEvent] = []
        for (index, event) in events.enumerated() {
            let snapshot = try event.snapshot(field: "/events/\(index)")
            guard seen.insert(event.id).inserted else { continue }
            records.append(.init(id: event.id, action: "endpoint." + event.type, after: snapshot))
        }
        return records
    }
}

extension CharterAgentWire.AuditEvent {
    /// The canonical snapshot the audit log keeps of the event; `field` is the pointer of this entry.
    func snapshot(field: String) throws -> String {
        guard Self.isType(type) else {
            throw Problem(
                .validationFailed, "type must be dotted lower-case words such as run_as_admin.audit_only (at most 64 characters).",
                field: field + "/type"
            )
        }
        var snapshot: [String: JSONValue] = [
            "event_id": .string(id.uuidString.lowercased()),
            "occurred_at": .string(occurredAt.ISO8601Format()),
        ]
        if let user {
            let user = try user.deviceUser(field: field + "/user")
            var members: [String: JSONValue] = [:]
            if let sid = user.sid { members["sid"] = .string(sid) }
            if let guid = user.guid { members["guid"] = .string(guid.description) }
            if let upn = user.upn { members["upn"] = .string(upn) }
            snapshot["user"] = .object(members)
        }
        for (name, value) in [("application", application), ("details", details)] {
            guard let value else { continue }
            guard case .object = value, value.canonicalData.count <= 8192 else {
                throw Problem(.validationFailed, "\(name) must be a JSON object of at most 8 KiB.", field: field + "/" + name)
            }
            snapshot[name] = value
        }
        return String(decoding: JSONValue.object(snapshot).canonicalData, as: UTF8.self)
    }

    /// `^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`, at most 64 characters.
    static func isType(_ type: String) -> Bool {
        guard (1...64).contains(type.utf8.count), let first = type.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first)
        else { return false }
        let words = type.split(separator: ".", omittingEmptySubsequences: false)
        return words.allSatisfy { word in
            !word.isEmpty && word.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "_")
            }
        }
    }
}

// MARK: - Answers

extension EnrollAnswer {
    /// The answer to an enrollment; `computer` is `null` while no directory computer is linked.
    init(_ enrolled: EndpointService.Enrolled) {
        self.init(
            deviceID: enrolled.device.id.description, deviceToken: enrolled.deviceToken,
            tokenExpiresAt: enrolled.device.tokenExpiresAt,
            status: enrolled.device.isPendingApproval ? "pending_approval" : "active", tenantID: enrolled.tenant.description,
            issuer: enrolled.issuer, signingKeys: KeySet(keys: enrolled.signingKeys.map(\.jsonValue)),
            computer: enrolled.device.computer.map { Computer(guid: $0.description) }
        )
    }
}

/// The checks shared by the agent routes, each failing with a 422 that names the field.
enum AgentValidation {
    static func text(_ value: String, field: String, maximum: Int) throws -> String {
        guard (1...maximum).contains(value.count), !value.contains(where: { $0.isNewline || $0.asciiValue.map { $0 < 0x20 } == true })
        else {
            throw Problem(.validationFailed, "\(field.dropFirst()) must have 1 to \(maximum) characters and no control characters.", field: field)
        }
        return value
    }

    static func sid(_ value: String, field: String) throws -> String {
        let parts = value.uppercased().split(separator: "-", omittingEmptySubsequences: false)
        guard value.count <= 200, parts.count >= 3, parts[0] == "S", parts[1] == "1",
            parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) && $0.allSatisfy(\.isASCII) })
        else {
            throw Problem(.validationFailed, "Expected a SID such as S-1-5-21-3623811015-3361044348-30300820-1105.", field: field)
        }
        return value.uppercased()
    }

    static func key(_ value: JSONValue, curve: JWK.Curve, field: String) throws -> JWK {
        guard case .object(let members) = value else {
            throw Problem(.validationFailed, "Expected a public JWK object.", field: field)
        }
        let allowed: Set<String> = ["kty", "crv", "x", "use", "kid", "alg"]
        if let unknown = members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw Problem(.validationFailed, "A public key JWK has no member '\(unknown)'.", field: field + "/" + unknown)
        }
        let key: JWK
        do {
            key = try JWK(jsonData: value.canonicalData)
        } catch {
            throw Problem(.validationFailed, "Not a valid OKP public JWK (RFC 8037): \(error).", field: field)
        }
        guard key.curve == curve else {
            throw Problem(.validationFailed, "Expected a key on curve \(curve.rawValue).", field: field + "/crv")
        }
        if curve == .x25519, !isContributory(key.x) {
            throw Problem(
                .validationFailed, "The X25519 key is a low-order point: every key agreement with it is all zeros.",
                field: field + "/x"
            )
        }
        return key
    }

    /// Whether an X25519 public key gives a shared secret that is not all zeros (RFC 7748 §6.1): a low-order
    /// point gives zeros whatever the private key, and swift-crypto (BoringSSL) then refuses the agreement, so
    /// the agreement is tried with a fresh key.
    static func isContributory(_ x: Data) -> Bool {
        guard let peer = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: x),
            let secret = try? Curve25519.KeyAgreement.PrivateKey().sharedSecretFromKeyAgreement(with: peer)
        else { return false }
        return secret.withUnsafeBytes { bytes in bytes.contains { $0 != 0 } }
    }
}
