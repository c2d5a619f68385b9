import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The agent API under `/v1/agent` (docs/agent-protocol.md), written by hand because it streams
/// server-sent events and serves `application/jose`; devices authenticate with their device token.
struct AgentRoutes: Sendable {
    /// How many users one check-in may report.
    static let maximumCheckinUsers = 200
    /// How many events one audit upload may carry.
    static let maximumAuditEvents = 500
    /// How often agents check in.
    static let checkinSeconds = 300

    let database: Database
    let endpoints: EndpointServices?
    let hub: EventHub
    let drain: DrainState
    let maximumBodyBytes: Int
    /// The body of an enrollment, read before its token is checked (`http.enroll_max_body_bytes`).
    let enrollMaximumBodyBytes: Int
    /// Requests per device, tenant and enrollment token.
    let rateLimiter: RateLimiter
    /// Devices per tenant and known users per device.
    let quotas: LimitsConfiguration.Quotas
    /// How long a device token works before the agent must renew it (`agent.device_token_seconds`).
    let deviceTokenLifetime: TimeInterval
    /// Elevation requests: submitted and read by devices.
    let requests: RequestService
    let now: @Sendable () -> Date

    func register(on router: some RouterMethods<AppRequestContext>) {
        let group = router.group("v1/agent")
        group.post("challenge") { request, context in try await challenge(request, context: context) }
        group.post("enroll") { request, context in try await enroll(request, context: context) }
        group.post("token") { request, context in try await renewToken(request, context: context) }
        group.get("bundle") { request, context in try await bundle(request, context: context) }
        group.get("events") { request, context in try await events(request, context: context) }
        // Retries of these carry an Idempotency-Key, owned by the device (docs/agent-protocol.md).
        let idempotent = group.group().add(
            middleware: IdempotencyMiddleware(
                database: database,
                owner: { request, context in
                    // The handler authenticates again and counts the request against the rate limits then.
                    let caller = try await identify(request, context: context)
                    return IdempotencyOwner(msp: caller.msp, tenant: caller.tenant, credential: caller.device.rawValue)
                },
                now: now
            )
        )
        idempotent.post("checkin") { request, context in try await checkin(request, context: context) }
        idempotent.post("audit") { request, context in try await audit(request, context: context) }
        idempotent.post("requests") { request, context in try await submitRequest(request, context: context) }
        group.get("requests/{id}") { request, context in try await readRequest(request, context: context) }
    }

    // MARK: - Authentication

    /// An authenticated device: who it is and the tenant its transactions are confined to.
    struct Caller: Sendable {
        let device: DeviceID
        let tenant: TenantID
        let msp: MSPID
    }

    /// The device a request's token names, counted against the device's and the tenant's rate limits (429).
    func authenticate(_ request: Request, context: AppRequestContext) async throws -> Caller {
        let caller = try await identify(request, context: context)
        do throws(RateLimiter.Limited) {
            try rateLimiter.admit(.device(caller.device), .tenant(caller.tenant))
        } catch {
            throw Problem(limited: error)
        }
        return caller
    }

    /// The device a request's token names: 401 for an unknown, replaced or revoked token, 401 `token-expired` for
    /// an expired one, 403 `device-pending-approval` for a device an administrator has not approved.
    func identify(_ request: Request, context: AppRequestContext) async throws -> Caller {
        let unauthorized = Problem(.unauthorized, "A valid device token is required: send 'Authorization: Bearer chtd_…'.")
        guard let token = DeviceToken(authorization: request.headers[.authorization]) else { throw unauthorized }
        let credential = try await database.readWithoutTenant(logger: context.logger) { tx in
            try await tx.devices.credential(for: token.id)
        }
        guard let credential else { throw unauthorized }
        let expiresAt: Date
        if token.matches(credential.tokenHash) {
            expiresAt = credential.tokenExpiresAt
        } else if let previous = credential.previousTokenHash, let previousExpiresAt = credential.previousTokenExpiresAt,
            token.matches(previous)
        {
            expiresAt = previousExpiresAt
        } else {
            throw unauthorized
        }
        guard expiresAt > now() else {
            throw Problem(.tokenExpired, "The device token expired; renew it with a signature by the device key (POST /v1/agent/token).")
        }
        guard !credential.isPendingApproval else {
            throw Problem(
                .pendingApproval,
                "The device waits for an administrator's approval: another device stands for this computer. Retry later."
            )
        }
        return Caller(device: token.id, tenant: credential.tenant, msp: credential.msp)
    }

    // MARK: - Challenges and token renewal

    /// `POST /v1/agent/challenge`: a single-use nonce for a device to sign (renewal, re-enrollment proof).
    /// Minted without touching the database (``ServerChallenges``).
    private func challenge(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (nonce, expiresAt) = try EndpointServices.require(endpoints).challenges.mint(now: now())
        struct Answer: Encodable {
            var nonce: String
            var expires_at: Date
        }
        return try AgentJSON.response(Answer(nonce: nonce, expires_at: expiresAt))
    }

    /// The answer for a challenge that is malformed, forged, expired or already used.
    static func staleChallenge(field: String, status: Problem.Kind) -> Problem {
        Problem(status, "The challenge is unknown, used or expired: ask for a new one.", field: field)
    }

    static func hash(_ nonce: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(nonce.utf8)))
    }

    /// `POST /v1/agent/token`: a new device token for a signature by the device key over a challenge.
    private func renewToken(_ request: Request, context: AppRequestContext) async throws -> Response {
        let body = try await AgentJSON.decode(SignedChallenge.self, from: request, maximumBytes: maximumBodyBytes)
        let refused = Problem(
            .unauthorized, "The renewal is refused: unknown or revoked device, or a challenge or signature that is not valid."
        )
        guard let device = DeviceID(body.deviceID) else {
            throw Problem(.validationFailed, "device_id must be the device id (a UUID).", field: "/device_id")
        }
        let now = now()
        let services = try EndpointServices.require(endpoints)
        guard let challengeExpiry = services.challenges.expiry(of: body.nonce, now: now) else {
            throw Self.staleChallenge(field: "/nonce", status: .unauthorized)
        }
        let identity = try await database.readWithoutTenant(logger: context.logger) { tx in
            try await tx.devices.signingIdentity(for: device)
        }
        guard let identity,
            Self.verifies(
                body.signature, by: identity.signingKey,
                over: DeviceProof.renewalMessage(nonce: body.nonce, deviceID: device.description)
            )
        else { throw refused }
        let token = DeviceToken.generate(for: device)
        let expiresAt = now.addingTimeInterval(deviceTokenLifetime)
        try await database.withTenant(identity.tenant, msp: identity.msp, logger: context.logger) { tx in
            // Spent only now, with a signature that holds: a used challenge cannot be replayed.
            guard try await tx.agentChallenges.spend(nonceHash: Self.hash(body.nonce), expiresAt: challengeExpiry, now: now)
            else { throw Self.staleChallenge(field: "/nonce", status: .unauthorized) }
            try await tx.devices.renewToken(identity.tenant, id: device, tokenHash: token.secretHash, expiresAt: expiresAt)
        }
        struct Answer: Encodable {
            var device_token: String
            var token_expires_at: Date
        }
        return try AgentJSON.response(Answer(device_token: token.string, token_expires_at: expiresAt))
    }

    /// Whether `signature` (unpadded base64url) is an Ed25519 signature of `message` by `publicKey`.
    static func verifies(_ signature: String, by publicKey: Data, over message: Data) -> Bool {
        guard let signature = Base64URL.decode(signature),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }

    // MARK: - Enrollment

    private func enroll(_ request: Request, context: AppRequestContext) async throws -> Response {
        let services = try EndpointServices.require(endpoints)
        let body = try await AgentJSON.decode(EnrollRequest.self, from: request, maximumBytes: enrollMaximumBodyBytes)
        let unauthorized = Problem(
            .unauthorized, "The enrollment token is not valid: it may be mistyped, expired, revoked or used up.",
            field: "/enrollment_token"
        )
        guard let secret = EnrollmentTokenSecret(parsing: body.enrollmentToken) else { throw unauthorized }
        let hostname = try AgentValidation.text(body.hostname, field: "/hostname", maximum: 253)
        let agentVersion = try AgentValidation.text(body.agentVersion, field: "/agent_version", maximum: 64)
        let os = try body.os.map { try AgentValidation.text($0, field: "/os", maximum: 200) }
        let sid = try body.computerSID.map { try AgentValidation.sid($0, field: "/computer_sid") }
        let guid = try body.computerGUID.map { raw -> ObjectGUID in
            guard let guid = ObjectGUID(raw) else {
                throw Problem(.validationFailed, "computer_guid must be an objectGUID in UUID form.", field: "/computer_guid")
            }
            return guid
        }
        let encryptionKey = try AgentValidation.key(body.encryptionKey, curve: .x25519, field: "/encryption_key")
        let signingKey = try AgentValidation.key(body.signingKey, curve: .ed25519, field: "/signing_key")

        let proofDevice = try body.proof.map { proof -> DeviceID in
            guard let id = DeviceID(proof.deviceID) else {
                throw Problem(.validationFailed, "proof.device_id must be the device id (a UUID).", field: "/proof/device_id")
            }
            return id
        }

        let credential = try await database.readWithoutTenant(logger: context.logger) { tx in
            try await tx.enrollmentTokens.credential(for: secret.id)
        }
        guard let credential, secret.matches(credential.secretHash) else { throw unauthorized }
        let tenant = credential.tenant
        do throws(RateLimiter.Limited) {
            try rateLimiter.admit(.enrollmentToken(secret.id), .tenant(tenant))
        } catch {
            throw Problem(limited: error)
        }
        let now = now()
        let answer: EnrollAnswer
        do {
            answer = try await database.withTenant(tenant, msp: credential.msp, logger: context.logger) { tx in
                guard try await tx.enrollmentTokens.use(tenant, id: secret.id, at: now) else { throw unauthorized }
                let computer = try await tx.devices.findComputer(tenant, guid: guid, sid: sid, hostname: hostname)
                let existing: Device?
                var claimed: [Device] = []
                if let proof = body.proof, let proofDevice {
                    existing = try await Self.provenDevice(
                        proofDevice, proof: proof, encryptionKey: encryptionKey.x, signingKey: signingKey.x, tenant: tenant,
                        challenges: services.challenges, in: tx, now: now
                    )
                } else {
                    existing = nil
                    // Without proof a newcomer never takes over: if an enrolled (or revoked) device stands for this
                    // computer, the newcomer is a separate device that waits for an administrator.
                    claimed = try await tx.devices.standingFor(
                        tenant, computer: computer, reportedGUID: guid, reportedSID: sid, hostname: hostname, revoked: false
                    )
                    if claimed.isEmpty {
                        claimed = try await tx.devices.standingFor(
                            tenant, computer: computer, reportedGUID: guid, reportedSID: sid, hostname: hostname, revoked: true
                        )
                    }
                }
                guard !(try await tx.devices.isSigningKeyTaken(tenant, signingKey.x, excluding: existing?.id)) else {
                    throw Self.signingKeyTaken
                }
                let deviceToken = existing.map { DeviceToken.generate(for: $0.id) } ?? DeviceToken.generate()
                let pin = OfflinePIN.generate()
                let device = Device(
                    id: deviceToken.id, hostname: hostname, os: os, agentVersion: agentVersion, reportedSID: sid,
                    reportedGUID: guid, computer: computer, encryptionKey: encryptionKey.x, signingKey: signingKey.x,
                    pinSecretSealed: try services.sealer.seal(pin.secret, context: BundleService.pinSealingContext(deviceToken.id))
                        .description,
                    enrolledAt: existing?.enrolledAt ?? now, isPendingApproval: existing?.isPendingApproval ?? !claimed.isEmpty,
                    tokenExpiresAt: now.addingTimeInterval(deviceTokenLifetime)
                )
                if existing != nil {
                    try await tx.devices.reenroll(device, in: tenant, tokenHash: deviceToken.secretHash, enrollmentToken: secret.id, at: now)
                } else {
                    try await tx.quotas.admitOne(more: .devices, in: tenant, limit: quotas.devicesPerTenant)
                    try await tx.devices.create(device, in: tenant, tokenHash: deviceToken.secretHash, enrollmentToken: secret.id)
                }
                let keys = try await services.keyring.ensureKeys(of: tenant, in: tx, now: now)
                var after = device.auditSnapshot
                if !claimed.isEmpty {
                    after = Self.adding(claimed.map(\.id.description), as: "claims_devices", to: after)
                }
                try await tx.audit.append(
                    AuditRecord(
                        occurredAt: now,
                        actor: AuditRecord.Actor(
                            id: secret.id.rawValue, name: "enrollment token", requestID: context.requestID,
                            clientIP: context.remoteAddress?.ipAddress
                        ),
                        action: existing != nil ? "device.reenrolled" : claimed.isEmpty ? "device.enrolled" : "device.enrollment_pending",
                        targetType: "device",
                        targetID: device.id.description,
                        before: existing?.auditSnapshot,
                        after: after
                    ),
                    to: .tenant(tenant)
                )
                if existing != nil {
                    // The streams opened with the old key material end everywhere.
                    try await tx.changeFeed.append(tenant, event: .disconnect, devices: [device.id], data: "{}")
                }
                return EnrollAnswer(
                    deviceID: device.id.description,
                    deviceToken: deviceToken.string,
                    tokenExpiresAt: device.tokenExpiresAt,
                    status: device.isPendingApproval ? "pending_approval" : "active",
                    tenantID: tenant.description,
                    issuer: BundleService.issuer(of: tenant),
                    signingKeys: .init(keys: SigningKeyring.published(keys, at: now)),
                    computer: computer.map { .init(guid: $0.description) },
                    reenrolled: existing != nil
                )
            }
        } catch StoreError.alreadyExists {
            // Another enrollment registered the same signing key meanwhile.
            throw Self.signingKeyTaken
        }
        let status: HTTPResponse.Status = answer.reenrolled ? .ok : answer.status == "active" ? .created : .accepted
        return try AgentJSON.response(answer, status: status)
    }

    /// An audit snapshot (a JSON object) with one more member.
    private static func adding(_ value: [String], as name: String, to snapshot: String) -> String {
        var object = (try? JSONSerialization.jsonObject(with: Data(snapshot.utf8))) as? [String: Any] ?? [:]
        object[name] = value
        let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? snapshot
    }

    private static let signingKeyTaken = Problem(
        .validationFailed, "Another device of the tenant registered this signing key; generate a new key pair.",
        field: "/signing_key"
    )

    /// The device a re-enrollment proof names, once the proof holds: a fresh challenge signed by the device's
    /// current key over the new keys.
    private static func provenDevice(
        _ id: DeviceID, proof: SignedChallenge, encryptionKey: Data, signingKey: Data, tenant: TenantID,
        challenges: ServerChallenges, in tx: Transaction, now: Date
    ) async throws -> Device {
        guard let challengeExpiry = challenges.expiry(of: proof.nonce, now: now) else {
            throw staleChallenge(field: "/proof/nonce", status: .validationFailed)
        }
        let device: Device
        do {
            device = try await tx.devices.get(tenant, id: id)
        } catch StoreError.notFound {
            throw Problem(.validationFailed, "No device of this tenant has this id.", field: "/proof/device_id")
        }
        guard device.revokedAt == nil else {
            throw Problem(.forbidden, "The device is revoked; only an administrator can restore it.", field: "/proof/device_id")
        }
        let message = DeviceProof.reenrollmentMessage(
            nonce: proof.nonce, deviceID: id.description, encryptionKey: encryptionKey, signingKey: signingKey
        )
        guard verifies(proof.signature, by: device.signingKey, over: message) else {
            throw Problem(.validationFailed, "The signature does not verify with the device's current key.", field: "/proof/signature")
        }
        guard try await tx.agentChallenges.spend(nonceHash: hash(proof.nonce), expiresAt: challengeExpiry, now: now) else {
            throw staleChallenge(field: "/proof/nonce", status: .validationFailed)
        }
        return device
    }

    struct EnrollAnswer: Encodable {
        struct KeySet: Encodable {
            var keys: [BundleSigningKey]
        }

        struct Computer: Encodable {
            var guid: String
        }

        var deviceID: String
        var deviceToken: String
        var tokenExpiresAt: Date
        /// `active` or `pending_approval`.
        var status: String
        var tenantID: String
        var issuer: String
        var signingKeys: KeySet
        var computer: Computer?
        var reenrolled: Bool

        enum CodingKeys: String, CodingKey {
            case deviceID = "device_id", deviceToken = "device_token", tenantID = "tenant_id", issuer
            case signingKeys = "signing_keys", computer, status
            case tokenExpiresAt = "token_expires_at"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(deviceID, forKey: .deviceID)
            try container.encode(deviceToken, forKey: .deviceToken)
            try container.encode(tokenExpiresAt, forKey: .tokenExpiresAt)
            try container.encode(status, forKey: .status)
            try container.encode(tenantID, forKey: .tenantID)
            try container.encode(issuer, forKey: .issuer)
            try container.encode(signingKeys, forKey: .signingKeys)
            try container.encode(computer, forKey: .computer)
        }
    }

    // MARK: - Bundle

    private func bundle(_ request: Request, context: AppRequestContext) async throws -> Response {
        let services = try EndpointServices.require(endpoints)
        let caller = try await authenticate(request, context: context)
        let now = now()
        let bundle = try await database.withTenant(caller.tenant, msp: caller.msp, logger: context.logger) { tx in
            let device = try await tx.devices.get(caller.tenant, id: caller.device)
            return try await services.bundles.current(for: device, of: caller.tenant, in: tx, now: now)
        }
        let etag = "\"\(bundle.version).\(Int64(bundle.issuedAt.timeIntervalSince1970))\""
        var headers: HTTPFields = [.eTag: etag, .cacheControl: "no-store"]
        headers[HTTPField.Name("Charter-Bundle-Version")!] = String(bundle.version)
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = BundleIssuer.mediaType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: bundle.compact)))
    }

    /// Whether an `If-None-Match` list names `etag` (weak comparison, RFC 9110 §13.1.2).
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }

    // MARK: - Check-in and audit

    private func checkin(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let body = try await AgentJSON.decode(CheckinRequest.self, from: request, maximumBytes: maximumBodyBytes)
        let agentVersion = try AgentValidation.text(body.agentVersion, field: "/agent_version", maximum: 64)
        guard body.users.count <= Self.maximumCheckinUsers else {
            throw Problem(.validationFailed, "At most \(Self.maximumCheckinUsers) users per check-in.", field: "/users")
        }
        if let version = body.bundleVersion, version < 0 {
            throw Problem(.validationFailed, "bundle_version cannot be negative.", field: "/bundle_version")
        }
        let users = try body.users.enumerated().map { index, user in try user.deviceUser(field: "/users/\(index)") }
        let now = now()
        let version = try await database.withTenant(caller.tenant, msp: caller.msp, logger: context.logger) { tx in
            let added = try await tx.devices.checkIn(
                caller.tenant, id: caller.device, agentVersion: agentVersion, heldVersion: body.bundleVersion,
                users: users, at: now
            )
            if added {
                let forgotten = try await tx.devices.forgetUsers(
                    caller.tenant, of: caller.device, beyond: quotas.knownUsersPerDevice
                )
                if forgotten > 0 {
                    context.logger.notice(
                        "device users forgotten beyond quota",
                        metadata: ["device.id": "\(caller.device)", "device.users_forgotten": "\(forgotten)"]
                    )
                }
                try await tx.changeFeed.append(caller.tenant, event: .bundle, devices: [caller.device], data: #"{"reason":"device"}"#)
            }
            return try await tx.devices.get(caller.tenant, id: caller.device).bundleVersion
        }
        struct Answer: Encodable {
            var device_id: String
            var bundle_version: Int64?
            var checkin_seconds: Int
        }
        return try AgentJSON.response(
            Answer(device_id: caller.device.description, bundle_version: version, checkin_seconds: Self.checkinSeconds)
        )
    }

    private func audit(_ request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try await authenticate(request, context: context)
        let body = try await AgentJSON.decode(AuditUpload.self, from: request, maximumBytes: maximumBodyBytes)
        guard (1...Self.maximumAuditEvents).contains(body.events.count) else {
            throw Problem(.validationFailed, "Send 1 to \(Self.maximumAuditEvents) events per call.", field: "/events")
        }
        var seen: Set<UUID> = []
        var records: [(id: UUID, action: String, after: String)] = []
        for (index, event) in body.events.enumerated() {
            let field = "/events/\(index)"
            guard Self.isEventType(event.type) else {
                throw Problem(
                    .validationFailed, "type must be dotted lower-case words such as run_as_admin.audit_only (at most 64 characters).",
                    field: field + "/type"
                )
            }
            var snapshot: [String: JSONValue] = [
                "event_id": .string(event.id.uuidString.lowercased()),
                "occurred_at": .string(event.occurredAt.ISO8601Format()),
            ]
            if let user = event.user {
                let user = try user.deviceUser(field: field + "/user")
                var members: [String: JSONValue] = [:]
                if let sid = user.sid { members["sid"] = .string(sid) }
                if let guid = user.guid { members["guid"] = .string(guid.description) }
                if let upn = user.upn { members["upn"] = .string(upn) }
                snapshot["user"] = .object(members)
            }
            for (name, value) in [("application", event.application), ("details", event.details)] {
                guard let value else { continue }
                guard case .object = value, value.canonicalData.count <= 8192 else {
                    throw Problem(.validationFailed, "\(name) must be a JSON object of at most 8 KiB.", field: field + "/" + name)
                }
                snapshot[name] = value
            }
            guard seen.insert(event.id).inserted else { continue }
            let after = String(decoding: JSONValue.object(snapshot).canonicalData, as: UTF8.self)
            records.append((event.id, "endpoint." + event.type, after))
        }
        let now = now()
        let accepted = try await database.withTenant(caller.tenant, msp: caller.msp, logger: context.logger) { tx in
            let device = try await tx.devices.get(caller.tenant, id: caller.device)
            let fresh = try await tx.devices.acceptEvents(caller.tenant, device: caller.device, ids: records.map(\.id), at: now)
            let actor = AuditRecord.Actor(
                id: caller.device.rawValue, name: "device \(device.hostname)", requestID: context.requestID,
                clientIP: context.remoteAddress?.ipAddress
            )
            for record in records where fresh.contains(record.id) {
                try await tx.audit.append(
                    AuditRecord(
                        occurredAt: now, actor: actor, action: record.action, targetType: "device",
                        targetID: caller.device.description, after: record.after
                    ),
                    to: .tenant(caller.tenant)
                )
            }
            return fresh.count
        }
        struct Answer: Encodable {
            var accepted: Int
            var duplicates: Int
        }
        return try AgentJSON.response(Answer(accepted: accepted, duplicates: body.events.count - accepted))
    }

    /// `^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`, at most 64 characters.
    static func isEventType(_ type: String) -> Bool {
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
