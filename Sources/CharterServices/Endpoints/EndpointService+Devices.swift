package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

/// The admin side of the endpoint area: enrollment tokens, devices (approve, restore, revoke), PIN answers
/// and signing keys.
extension EndpointService {
    /// How long an enrollment token works when its creator set no `expires_at` (7 days).
    package static let enrollmentTokenLifetime: TimeInterval = 7 * 86_400
    /// How many enrollments a token allows when its creator set no `max_uses`.
    package static let enrollmentTokenUses = 100
    /// How long a connector enrollment token works when its creator set no `expires_at` (24 hours).
    package static let connectorEnrollmentTokenLifetime: TimeInterval = 86_400
    /// How many enrollments a connector enrollment token allows when its creator set no `max_uses`.
    package static let connectorEnrollmentTokenUses = 1

    /// What an administrator asks of a new enrollment token.
    package struct TokenRequest: Sendable {
        package var name: String
        package var expiresAt: Date?
        package var maximumUses: Int?
        package var neverExpires: Bool
        package var unlimitedUses: Bool
        /// What the token enrolls.
        package var purpose: EnrollmentToken.Purpose

        package init(
            name: String, expiresAt: Date?, maximumUses: Int?, neverExpires: Bool, unlimitedUses: Bool,
            purpose: EnrollmentToken.Purpose = .device
        ) {
            self.name = name
            self.expiresAt = expiresAt
            self.maximumUses = maximumUses
            self.neverExpires = neverExpires
            self.unlimitedUses = unlimitedUses
            self.purpose = purpose
        }
    }

    // MARK: - Enrollment tokens

    /// A page of the tenant's enrollment tokens after `cursor`.
    package func enrollmentTokens(
        of tenant: TenantID, msp: MSPID, after cursor: EnrollmentTokenID?, limit: Int, by caller: Caller
    ) async throws -> [EnrollmentToken] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.enrollmentTokens.list(tenant, after: cursor, limit: limit)
        }
    }

    package func enrollmentToken(
        _ id: EnrollmentTokenID, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> EnrollmentToken {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.enrollmentTokens.get(tenant, id: id)
        }
    }

    /// Creates an enrollment token and records `enrollment_token.created`; the secret is shown once.
    ///
    /// A token copied into an RMM script is a credential: it expires and runs out unless an admin chose otherwise.
    package func createEnrollmentToken(
        _ request: TokenRequest, in tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> (token: EnrollmentToken, secret: String) {
        let now = now()
        try Self.validate(request, now: now)
        let secret = EnrollmentTokenSecret.generate()
        let isConnector = request.purpose == .connector
        let lifetime = isConnector ? Self.connectorEnrollmentTokenLifetime : Self.enrollmentTokenLifetime
        let uses = isConnector ? Self.connectorEnrollmentTokenUses : Self.enrollmentTokenUses
        let token = EnrollmentToken(
            id: secret.id, name: request.name,
            expiresAt: request.neverExpires ? nil : request.expiresAt ?? now.addingTimeInterval(lifetime),
            maximumUses: request.unlimitedUses ? nil : request.maximumUses ?? uses, createdAt: now,
            createdBy: caller.actor.id, purpose: request.purpose
        )
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.enrollmentTokens.create(token, in: tenant, secretHash: secret.secretHash)
            try await tx.audit.record(
                "enrollment_token.created", on: ("enrollment_token", token.id.description), after: token.auditSnapshot,
                by: caller, at: now, in: .tenant(tenant)
            )
        }
        return (token, secret.string)
    }

    private static func validate(_ request: TokenRequest, now: Date) throws(EndpointError) {
        if let expiresAt = request.expiresAt, expiresAt <= now {
            throw .invalid("expires_at must lie in the future.", field: "/expires_at")
        }
        if let uses = request.maximumUses, !(1...1_000_000).contains(uses) {
            throw .invalid("max_uses must be from 1 to 1000000.", field: "/max_uses")
        }
        if request.neverExpires, request.expiresAt != nil {
            throw .invalid("Give expires_at or no_expiry, not both.", field: "/no_expiry")
        }
        if request.unlimitedUses, request.maximumUses != nil {
            throw .invalid("Give max_uses or unlimited_uses, not both.", field: "/unlimited_uses")
        }
    }

    /// Revokes an enrollment token and records `enrollment_token.revoked`; revoking it again changes nothing.
    package func revokeEnrollmentToken(
        _ id: EnrollmentTokenID, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws {
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.enrollmentTokens.get(tenant, id: id)
            guard before.revokedAt == nil else { return }
            let after = try await tx.enrollmentTokens.revoke(tenant, id: id, at: now)
            try await tx.audit.record(
                "enrollment_token.revoked", on: ("enrollment_token", id.description), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
        }
    }

    // MARK: - Devices

    /// How many of its most recently seen users a device shows in a listing.
    package static let knownUsersPerListedDevice = 20
    /// How many of its most recently seen users a device shows when read alone.
    package static let knownUsersPerDevice = 200

    /// A page of the tenant's devices matching `filter` after `cursor`, each with its most recently seen users.
    package func devices(
        of tenant: TenantID, msp: MSPID, matching filter: DeviceFilter, after cursor: DeviceID?, limit: Int,
        by caller: Caller
    ) async throws -> [InventoryDevice] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let devices = try await tx.devices.list(tenant, matching: filter, after: cursor, limit: limit)
            let users = try await tx.devices.knownUsers(
                tenant, of: devices.map(\.device.id), perDevice: Self.knownUsersPerListedDevice
            )
            return devices.map { device in
                var device = device
                if let known = users[device.device.id] {
                    device.knownUsers = known.users
                    device.knownUserCount = known.count
                }
                return device
            }
        }
    }

    /// One device of the tenant, with its most recently seen users.
    package func device(_ id: DeviceID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> InventoryDevice {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            var device = try await tx.devices.inventoryDevice(tenant, id: id)
            if let known = try await tx.devices.knownUsers(tenant, of: [id], perDevice: Self.knownUsersPerDevice)[id] {
                device.knownUsers = known.users
                device.knownUserCount = known.count
            }
            return device
        }
    }

    /// Revokes a device, records `device.revoked` and ends its streams on every replica; revoking it again
    /// changes nothing.
    package func revokeDevice(_ id: DeviceID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws {
        let now = now()
        let revoked = try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.devices.get(tenant, id: id)
            guard before.revokedAt == nil else { return false }
            try await revoke(before, of: tenant, by: caller, in: tx, now: now)
            // Every replica closes the device's streams and long polls when it reads this entry.
            try await tx.changeFeed.append(tenant, event: .disconnect, devices: [id], data: "{}")
            return true
        }
        if revoked { await disconnect(id) }
    }

    private func revoke(_ before: Device, of tenant: TenantID, by caller: Caller, in tx: Transaction, now: Date) async throws {
        let after = try await tx.devices.revoke(tenant, id: before.id, at: now)
        try await tx.audit.record(
            "device.revoked", on: ("device", before.id.description), before: before.auditSnapshot,
            after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
        )
        try await AlertEvent.enqueue(
            AlertEvent.deviceRevoked, in: tenant, subject: "device", snapshot: after.auditSnapshot, at: now,
            emails: emailsAlerts, tx: tx
        )
    }

    /// Approves a device waiting for approval: the devices standing for the same computer are revoked
    /// (`device.revoked` each), then `device.approved`.
    ///
    /// - Throws: ``EndpointError/notPendingApproval``.
    package func approveDevice(_ id: DeviceID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> Device {
        let now = now()
        let (device, replaced) = try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.devices.get(tenant, id: id)
            guard try await tx.devices.approve(tenant, id: id) else { throw EndpointError.notPendingApproval }
            let replaced = try await tx.devices.standingFor(
                tenant, computer: before.computer, reportedGUID: before.reportedGUID, reportedSID: before.reportedSID,
                hostname: before.hostname, revoked: false, excluding: id
            )
            for old in replaced { try await revoke(old, of: tenant, by: caller, in: tx, now: now) }
            let after = try await tx.devices.get(tenant, id: id)
            try await tx.audit.record(
                "device.approved", on: ("device", id.description), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            if !replaced.isEmpty {
                try await tx.changeFeed.append(tenant, event: .disconnect, devices: replaced.map(\.id), data: "{}")
            }
            return (after, replaced.map(\.id))
        }
        for old in replaced { await disconnect(old) }
        return device
    }

    /// Restores a revoked device and records `device.restored`.
    ///
    /// - Throws: ``EndpointError/notRevoked``, or ``EndpointError/computerTaken(by:)`` while another device
    ///   stands for the same computer.
    package func restoreDevice(_ id: DeviceID, of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> Device {
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let before = try await tx.devices.get(tenant, id: id)
            guard before.revokedAt != nil else { throw EndpointError.notRevoked }
            let others = try await tx.devices.standingFor(
                tenant, computer: before.computer, reportedGUID: before.reportedGUID, reportedSID: before.reportedSID,
                hostname: before.hostname, revoked: false, excluding: id
            )
            if let other = others.first { throw EndpointError.computerTaken(by: other.id) }
            _ = try await tx.devices.restore(tenant, id: id, at: now)
            let after = try await tx.devices.get(tenant, id: id)
            try await tx.audit.record(
                "device.restored", on: ("device", id.description), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            return after
        }
    }

    // MARK: - PIN

    /// The offline PIN response to a challenge a device shows.
    package struct PINAnswer: Sendable, Hashable {
        /// The challenge as normalised.
        package var challenge: String
        package var response: String
        package var validUntil: Date
    }

    /// Answers a device's PIN challenge, once per challenge, and records `device.pin_issued`.
    ///
    /// - Throws: ``EndpointError`` for a reason over 500 characters, a revoked device, a malformed or an
    ///   answered challenge; ``EndpointError/noKeyEncryptionKey``.
    package func answerPIN(
        _ rawChallenge: String, reason: String?, device id: DeviceID, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> PINAnswer {
        let keys = try requireKeys()
        if let reason, reason.unicodeScalars.count > 500 {
            throw EndpointError.invalid("reason may have at most 500 characters.", field: "/reason")
        }
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let device = try await tx.devices.get(tenant, id: id)
            guard device.revokedAt == nil else { throw EndpointError.deviceRevoked }
            let pin = try OfflinePIN(
                secret: try keys.sealer.open(device.pinSecretSealed, context: BundleService.pinSealingContext(device.id))
            )
            guard rawChallenge.unicodeScalars.count <= 32, let challenge = pin.normalizedChallenge(rawChallenge) else {
                throw EndpointError.invalidPINChallenge(length: pin.challengeLength)
            }
            guard try await tx.devices.recordPIN(tenant, id: id, challenge: challenge, by: caller.actor.id, at: now) else {
                throw EndpointError.pinChallengeAnswered
            }
            let answer = PINAnswer(
                challenge: challenge, response: try pin.response(for: challenge, at: now),
                validUntil: Date(timeIntervalSince1970: TimeInterval((pin.step(at: now) + 2) * Int64(pin.period)))
            )
            try await tx.audit.record(
                "device.pin_issued", on: ("device", id.description),
                after: AuditJSON.encode([
                    "challenge": challenge, "reason": reason ?? "", "valid_until": answer.validUntil.ISO8601Format(),
                ]),
                by: caller, at: now, in: .tenant(tenant)
            )
            return answer
        }
    }

    // MARK: - Signing keys

    /// The tenant's signing keys (its first made if it has none) and the time their statuses hold for.
    package func signingKeys(
        of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> (keys: [StoredSigningKey], at: Date) {
        let keys = try requireKeys()
        let now = now()
        let stored = try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await keys.keyring.ensureKeys(of: tenant, in: tx, now: now)
        }
        return (stored, now)
    }

    /// Starts a key rotation: the next key activates after `announceSeconds` (default a week), every device
    /// is hinted to fetch a bundle announcing it, and `signing_key.rotation_started` is recorded.
    ///
    /// - Throws: ``EndpointError/rotationAlreadyAnnounced``, or ``EndpointError/invalid(_:field:)`` for an
    ///   announcement outside 0 to 31536000 seconds.
    package func rotateSigningKey(
        announceSeconds: Int?, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> (keys: [StoredSigningKey], at: Date) {
        let keys = try requireKeys()
        let announcement = announceSeconds ?? 604_800
        guard (0...31_536_000).contains(announcement) else {
            throw EndpointError.invalid("announce_seconds must be from 0 to 31536000.", field: "/announce_seconds")
        }
        let now = now()
        let stored = try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let key = try await keys.keyring.rotate(tenant, announcement: TimeInterval(announcement), in: tx, now: now)
            try await tx.audit.record(
                "signing_key.rotation_started", on: ("signing_key", key.keyID),
                after: AuditJSON.encode(["kid": key.keyID, "activates_at": key.activatesAt.ISO8601Format()]),
                by: caller, at: now, in: .tenant(tenant)
            )
            try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"signing_keys"}"#)
            return try await tx.signingKeys.list(tenant)
        }
        return (stored, now)
    }
}
