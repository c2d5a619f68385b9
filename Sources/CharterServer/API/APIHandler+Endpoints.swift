import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    /// How long an enrollment token works when its creator set no `expires_at` (7 days).
    static let enrollmentTokenLifetime: TimeInterval = 7 * 86_400
    /// How many enrollments a token allows when its creator set no `max_uses`.
    static let enrollmentTokenUses = 100

    // MARK: - Enrollment tokens

    func listEnrollmentTokens(
        _ input: Operations.ListEnrollmentTokens.Input
    ) async throws -> Operations.ListEnrollmentTokens.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: EnrollmentTokenID.self)
        let now = now()
        let tokens = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.enrollmentTokens.list(tenant, after: cursor, limit: limit + 1)
        }
        let page = tokens.prefix(limit)
        let next = tokens.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map { .init($0, now: now) }, nextCursor: next))))
    }

    func createEnrollmentToken(
        _ input: Operations.CreateEnrollmentToken.Input
    ) async throws -> Operations.CreateEnrollmentToken.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        _ = try EndpointServices.require(endpoints)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let name = try Input.name(body.name)
        let now = now()
        if let expiresAt = body.expiresAt, expiresAt <= now {
            throw Problem(.validationFailed, "expires_at must lie in the future.", field: "/expires_at")
        }
        if let uses = body.maxUses, !(1...1_000_000).contains(uses) {
            throw Problem(.validationFailed, "max_uses must be from 1 to 1000000.", field: "/max_uses")
        }
        let neverExpires = body.noExpiry ?? false
        let unlimitedUses = body.unlimitedUses ?? false
        if neverExpires, body.expiresAt != nil {
            throw Problem(.validationFailed, "Give expires_at or no_expiry, not both.", field: "/no_expiry")
        }
        if unlimitedUses, body.maxUses != nil {
            throw Problem(.validationFailed, "Give max_uses or unlimited_uses, not both.", field: "/unlimited_uses")
        }
        let secret = EnrollmentTokenSecret.generate()
        // A token copied into an RMM script is a credential: it expires and runs out unless an admin chose otherwise.
        let token = EnrollmentToken(
            id: secret.id, name: name,
            expiresAt: neverExpires ? nil : body.expiresAt ?? now.addingTimeInterval(Self.enrollmentTokenLifetime),
            maximumUses: unlimitedUses ? nil : body.maxUses ?? Self.enrollmentTokenUses, createdAt: now,
            createdBy: scope.principal.id.rawValue
        )
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.enrollmentTokens.create(token, in: tenant, secretHash: secret.secretHash)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "enrollment_token.created",
                    targetType: "enrollment_token", targetID: token.id.description, after: token.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return .created(.init(body: .json(.init(token: .init(token, now: now), secret: secret.string))))
    }

    func getEnrollmentToken(_ input: Operations.GetEnrollmentToken.Input) async throws -> Operations.GetEnrollmentToken.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let id: EnrollmentTokenID = try Input.id(input.path.id)
        let token = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.enrollmentTokens.get(tenant, id: id)
        }
        return .ok(.init(body: .json(.init(token, now: now()))))
    }

    func revokeEnrollmentToken(
        _ input: Operations.RevokeEnrollmentToken.Input
    ) async throws -> Operations.RevokeEnrollmentToken.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id: EnrollmentTokenID = try Input.id(input.path.id)
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let before = try await tx.enrollmentTokens.get(tenant, id: id)
            guard before.revokedAt == nil else { return }
            let after = try await tx.enrollmentTokens.revoke(tenant, id: id, at: now)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "enrollment_token.revoked",
                    targetType: "enrollment_token", targetID: id.description, before: before.auditSnapshot,
                    after: after.auditSnapshot
                ),
                to: .tenant(tenant)
            )
        }
        return .noContent(.init())
    }

    // MARK: - Devices

    func listDevices(_ input: Operations.ListDevices.Input) async throws -> Operations.ListDevices.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: DeviceID.self)
        let devices = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.devices.list(tenant, after: cursor, limit: limit + 1)
        }
        let page = devices.prefix(limit)
        let next = devices.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Device.init), nextCursor: next))))
    }

    func getDevice(_ input: Operations.GetDevice.Input) async throws -> Operations.GetDevice.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let id: DeviceID = try Input.id(input.path.id)
        let device = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await tx.devices.get(tenant, id: id)
        }
        return .ok(.init(body: .json(.init(device))))
    }

    func revokeDevice(_ input: Operations.RevokeDevice.Input) async throws -> Operations.RevokeDevice.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id: DeviceID = try Input.id(input.path.id)
        let now = now()
        let revoked = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let before = try await tx.devices.get(tenant, id: id)
            guard before.revokedAt == nil else { return false }
            let after = try await tx.devices.revoke(tenant, id: id, at: now)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "device.revoked", targetType: "device",
                    targetID: id.description, before: before.auditSnapshot, after: after.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            // Every replica closes the device's streams and long polls when it reads this entry.
            try await tx.changeFeed.append(tenant, event: .disconnect, devices: [id], data: "{}")
            return true
        }
        if revoked { await hub?.disconnect(device: id) }
        return .noContent(.init())
    }

    func approveDevice(_ input: Operations.ApproveDevice.Input) async throws -> Operations.ApproveDevice.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id: DeviceID = try Input.id(input.path.id)
        let now = now()
        let (device, replaced) = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let before = try await tx.devices.get(tenant, id: id)
            guard try await tx.devices.approve(tenant, id: id) else {
                throw Problem(.conflict, "The device is not waiting for approval.")
            }
            let replaced = try await tx.devices.standingFor(
                tenant, computer: before.computer, reportedGUID: before.reportedGUID, reportedSID: before.reportedSID,
                hostname: before.hostname, revoked: false, excluding: id
            )
            for old in replaced {
                let after = try await tx.devices.revoke(tenant, id: old.id, at: now)
                try await tx.audit.append(
                    AuditRecord(
                        occurredAt: now, actor: scope.actor, action: "device.revoked", targetType: "device",
                        targetID: old.id.description, before: old.auditSnapshot, after: after.auditSnapshot
                    ),
                    to: .tenant(tenant)
                )
            }
            let after = try await tx.devices.get(tenant, id: id)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "device.approved", targetType: "device",
                    targetID: id.description, before: before.auditSnapshot, after: after.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            if !replaced.isEmpty {
                try await tx.changeFeed.append(tenant, event: .disconnect, devices: replaced.map(\.id), data: "{}")
            }
            return (after, replaced.map(\.id))
        }
        for old in replaced { await hub?.disconnect(device: old) }
        return .ok(.init(body: .json(.init(device))))
    }

    func restoreDevice(_ input: Operations.RestoreDevice.Input) async throws -> Operations.RestoreDevice.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let id: DeviceID = try Input.id(input.path.id)
        let now = now()
        let device = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let before = try await tx.devices.get(tenant, id: id)
            guard before.revokedAt != nil else { throw Problem(.conflict, "The device is not revoked.") }
            let others = try await tx.devices.standingFor(
                tenant, computer: before.computer, reportedGUID: before.reportedGUID, reportedSID: before.reportedSID,
                hostname: before.hostname, revoked: false, excluding: id
            )
            if let other = others.first {
                throw Problem(
                    .conflict, "Device \(other.id) stands for the same computer; revoke it before restoring this one."
                )
            }
            _ = try await tx.devices.restore(tenant, id: id, at: now)
            let after = try await tx.devices.get(tenant, id: id)
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "device.restored", targetType: "device",
                    targetID: id.description, before: before.auditSnapshot, after: after.auditSnapshot
                ),
                to: .tenant(tenant)
            )
            return after
        }
        return .ok(.init(body: .json(.init(device))))
    }

    func answerPINChallenge(_ input: Operations.AnswerPINChallenge.Input) async throws -> Operations.AnswerPINChallenge.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .approve)
        let services = try EndpointServices.require(endpoints)
        let id: DeviceID = try Input.id(input.path.id)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        if let reason = body.reason, reason.unicodeScalars.count > 500 {
            throw Problem(.validationFailed, "reason may have at most 500 characters.", field: "/reason")
        }
        let now = now()
        let answer = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let device = try await tx.devices.get(tenant, id: id)
            guard device.revokedAt == nil else {
                throw Problem(.conflict, "The device is revoked; it has no PIN secret any more.")
            }
            let secret = try services.sealer.open(
                device.pinSecretSealed, context: BundleService.pinSealingContext(device.id)
            )
            let pin = try OfflinePIN(secret: secret)
            guard body.challenge.unicodeScalars.count <= 32, let challenge = pin.normalizedChallenge(body.challenge) else {
                throw Problem(
                    .validationFailed,
                    "The challenge must be \(pin.challengeLength) characters of Crockford base32, as shown on the device (e.g. K7M2-Q9XD).",
                    field: "/challenge"
                )
            }
            guard try await tx.devices.recordPIN(tenant, id: id, challenge: challenge, by: scope.principal.id.rawValue, at: now)
            else {
                throw Problem(.conflict, "A response for this challenge was already given; ask the user for a new challenge.")
            }
            let response = try pin.response(for: challenge, at: now)
            let validUntil = Date(timeIntervalSince1970: TimeInterval((pin.step(at: now) + 2) * Int64(pin.period)))
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "device.pin_issued", targetType: "device",
                    targetID: id.description,
                    after: AuditJSON.encode([
                        "challenge": challenge, "reason": body.reason ?? "", "valid_until": validUntil.ISO8601Format(),
                    ])
                ),
                to: .tenant(tenant)
            )
            return Components.Schemas.PINResponse(challenge: challenge, response: response, validUntil: validUntil)
        }
        return .ok(.init(body: .json(answer)))
    }

    // MARK: - Signing keys

    func listSigningKeys(_ input: Operations.ListSigningKeys.Input) async throws -> Operations.ListSigningKeys.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .read)
        let services = try EndpointServices.require(endpoints)
        let now = now()
        let keys = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            try await services.keyring.ensureKeys(of: tenant, in: tx, now: now)
        }
        return .ok(.init(body: .json(.init(keys: keys.map { .init($0, now: now) }))))
    }

    func rotateSigningKey(_ input: Operations.RotateSigningKey.Input) async throws -> Operations.RotateSigningKey.Output {
        let (scope, tenant, msp) = try authorized(input.path.tenant, .configure)
        let services = try EndpointServices.require(endpoints)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let announcement = body.announceSeconds ?? 604_800
        guard (0...31_536_000).contains(announcement) else {
            throw Problem(.validationFailed, "announce_seconds must be from 0 to 31536000.", field: "/announce_seconds")
        }
        let now = now()
        let keys = try await database.withTenant(tenant, msp: msp, logger: scope.logger) { tx in
            let key = try await services.keyring.rotate(
                tenant, announcement: TimeInterval(announcement), in: tx, now: now
            )
            try await tx.audit.append(
                AuditRecord(
                    occurredAt: now, actor: scope.actor, action: "signing_key.rotation_started", targetType: "signing_key",
                    targetID: key.keyID,
                    after: AuditJSON.encode(["kid": key.keyID, "activates_at": key.activatesAt.ISO8601Format()])
                ),
                to: .tenant(tenant)
            )
            try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"signing_keys"}"#)
            return try await tx.signingKeys.list(tenant)
        }
        return .created(.init(body: .json(.init(keys: keys.map { .init($0, now: now) }))))
    }
}

extension Components.Schemas.EnrollmentToken {
    init(_ token: EnrollmentToken, now: Date) {
        let status: StatusPayload =
            if token.revokedAt != nil { .revoked }
            else if let expiresAt = token.expiresAt, expiresAt <= now { .expired }
            else if let maximum = token.maximumUses, token.uses >= maximum { .usedUp }
            else { .active }
        self.init(
            id: token.id.description, name: token.name, expiresAt: token.expiresAt, maxUses: token.maximumUses,
            uses: token.uses, createdAt: token.createdAt, revokedAt: token.revokedAt, lastUsedAt: token.lastUsedAt,
            status: status
        )
    }
}

extension EnrollmentToken {
    /// What the audit log keeps of an enrollment token: never its secret or hash.
    var auditSnapshot: String {
        var snapshot: [String: any Sendable] = ["id": id.description, "name": name]
        if let expiresAt { snapshot["expires_at"] = expiresAt.ISO8601Format() }
        if let maximumUses { snapshot["max_uses"] = maximumUses }
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        return AuditJSON.encode(snapshot)
    }
}

extension Device {
    /// What the audit log keeps of a device: never its token hash or PIN secret.
    var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description, "hostname": hostname, "agent_version": agentVersion,
            "encryption_key_thumbprint": Self.thumbprint(curve: .x25519, encryptionKey),
            "signing_key_thumbprint": Self.thumbprint(curve: .ed25519, signingKey),
        ]
        if let computer { snapshot["computer"] = computer.description }
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        if isPendingApproval { snapshot["pending_approval"] = true }
        return AuditJSON.encode(snapshot)
    }

    static func thumbprint(curve: JWK.Curve, _ key: Data) -> String {
        (try? JWK(curve: curve, x: key).thumbprint) ?? ""
    }
}

extension Components.Schemas.Device {
    init(_ device: Device) {
        self.init(
            id: device.id.description, hostname: device.hostname, os: device.os, agentVersion: device.agentVersion,
            reportedSid: device.reportedSID, reportedGuid: device.reportedGUID?.description,
            computer: device.computer.map { .init(guid: $0.description) },
            encryptionKeyThumbprint: Device.thumbprint(curve: .x25519, device.encryptionKey),
            signingKeyThumbprint: Device.thumbprint(curve: .ed25519, device.signingKey),
            enrolledAt: device.enrolledAt, reenrolledAt: device.reenrolledAt, lastSeenAt: device.lastSeenAt,
            bundleVersion: device.bundleVersion, heldVersion: device.heldVersion, revokedAt: device.revokedAt,
            tokenExpiresAt: device.tokenExpiresAt,
            status: device.revokedAt != nil ? .revoked : device.isPendingApproval ? .pendingApproval : .active
        )
    }
}

extension Components.Schemas.SigningKey {
    init(_ key: StoredSigningKey, now: Date) {
        let status: StatusPayload =
            switch SigningKeyring.status(of: key, at: now) {
            case .active: .active
            case .next: .next
            case .retired: .retired
            }
        self.init(
            kty: .okp, crv: .ed25519, x: Base64URL.encode(key.publicKey), kid: key.keyID, use: .sig, alg: .ed25519,
            status: status, createdAt: key.createdAt, activatesAt: key.activatesAt, retiresAt: key.retiresAt
        )
    }
}
