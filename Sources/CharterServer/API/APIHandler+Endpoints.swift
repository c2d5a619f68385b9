import CharterBundle
import CharterCore
import CharterServices
import CharterStore
import Foundation
import OpenAPIRuntime

extension APIHandler {
    // MARK: - Enrollment tokens

    func listEnrollmentTokens(
        _ input: Operations.ListEnrollmentTokens.Input
    ) async throws -> Operations.ListEnrollmentTokens.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let limit = try Input.limit(input.query.limit)
        let cursor = try Cursor.decodeID(input.query.cursor, as: EnrollmentTokenID.self)
        let now = now()
        let tokens = try await endpointService.enrollmentTokens(
            of: call.tenant, msp: call.msp, after: cursor, limit: limit + 1, by: call.caller
        )
        let page = tokens.prefix(limit)
        let next = tokens.count > limit ? page.last.map { $0.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map { .init($0, now: now) }, nextCursor: next))))
    }

    func createEnrollmentToken(
        _ input: Operations.CreateEnrollmentToken.Input
    ) async throws -> Operations.CreateEnrollmentToken.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        _ = try endpointService.requireKeys()
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let request = EndpointService.TokenRequest(
            name: try Input.name(body.name), expiresAt: body.expiresAt, maximumUses: body.maxUses,
            neverExpires: body.noExpiry ?? false, unlimitedUses: body.unlimitedUses ?? false,
            purpose: body.purpose.map { $0 == .connector ? .connector : .device } ?? .device
        )
        let (token, secret) = try await endpointService.createEnrollmentToken(
            request, in: call.tenant, msp: call.msp, by: call.caller
        )
        return .created(.init(body: .json(.init(token: .init(token, now: token.createdAt), secret: secret))))
    }

    func getEnrollmentToken(_ input: Operations.GetEnrollmentToken.Input) async throws -> Operations.GetEnrollmentToken.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id: EnrollmentTokenID = try Input.id(input.path.id)
        let token = try await endpointService.enrollmentToken(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(token, now: now()))))
    }

    func revokeEnrollmentToken(
        _ input: Operations.RevokeEnrollmentToken.Input
    ) async throws -> Operations.RevokeEnrollmentToken.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id: EnrollmentTokenID = try Input.id(input.path.id)
        try await endpointService.revokeEnrollmentToken(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .noContent(.init())
    }

    // MARK: - Devices

    func listDevices(_ input: Operations.ListDevices.Input) async throws -> Operations.ListDevices.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let query = input.query
        let limit = try Input.limit(query.limit)
        let cursor = try Cursor.decodeID(query.cursor, as: DeviceID.self)
        let filter = DeviceFilter(
            hostname: try Input.searchText(query.hostname, field: "hostname", maxLength: 253),
            hostnameMatch: query.hostnameMatch == .prefix ? .prefix : .contains,
            os: try Input.searchText(query.os, field: "os", maxLength: 200), lastSeenAfter: query.lastSeenAfter,
            lastSeenBefore: query.lastSeenBefore, isBehind: query.behind,
            status: query.status.flatMap { DeviceFilter.Status(rawValue: $0.rawValue) }
        )
        let devices = try await endpointService.devices(
            of: call.tenant, msp: call.msp, matching: filter, after: cursor, limit: limit + 1, by: call.caller
        )
        let page = devices.prefix(limit)
        let next = devices.count > limit ? page.last.map { $0.device.id.description } : nil
        return .ok(.init(body: .json(.init(items: page.map(Components.Schemas.Device.init), nextCursor: next))))
    }

    func getDevice(_ input: Operations.GetDevice.Input) async throws -> Operations.GetDevice.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let id: DeviceID = try Input.id(input.path.id)
        let device = try await endpointService.device(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(device))))
    }

    func revokeDevice(_ input: Operations.RevokeDevice.Input) async throws -> Operations.RevokeDevice.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id: DeviceID = try Input.id(input.path.id)
        try await endpointService.revokeDevice(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .noContent(.init())
    }

    func approveDevice(_ input: Operations.ApproveDevice.Input) async throws -> Operations.ApproveDevice.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id: DeviceID = try Input.id(input.path.id)
        let device = try await endpointService.approveDevice(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(device))))
    }

    func restoreDevice(_ input: Operations.RestoreDevice.Input) async throws -> Operations.RestoreDevice.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        let id: DeviceID = try Input.id(input.path.id)
        let device = try await endpointService.restoreDevice(id, of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(device))))
    }

    func answerPINChallenge(_ input: Operations.AnswerPINChallenge.Input) async throws -> Operations.AnswerPINChallenge.Output {
        let call = try TenantCall.authorize(.approve, tenant: input.path.tenant)
        _ = try endpointService.requireKeys()
        let id: DeviceID = try Input.id(input.path.id)
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let answer = try await endpointService.answerPIN(
            body.challenge, reason: body.reason, device: id, of: call.tenant, msp: call.msp, by: call.caller
        )
        return .ok(
            .init(
                body: .json(.init(challenge: answer.challenge, response: answer.response, validUntil: answer.validUntil))
            )
        )
    }

    // MARK: - Signing keys

    func listSigningKeys(_ input: Operations.ListSigningKeys.Input) async throws -> Operations.ListSigningKeys.Output {
        let call = try TenantCall.authorize(.read, tenant: input.path.tenant)
        let (keys, now) = try await endpointService.signingKeys(of: call.tenant, msp: call.msp, by: call.caller)
        return .ok(.init(body: .json(.init(keys: keys.map { .init($0, now: now) }))))
    }

    func rotateSigningKey(_ input: Operations.RotateSigningKey.Input) async throws -> Operations.RotateSigningKey.Output {
        let call = try TenantCall.authorize(.configure, tenant: input.path.tenant)
        _ = try endpointService.requireKeys()
        guard case .json(let body) = input.body else { throw Problem(.unsupportedMediaType, "Send JSON.") }
        let (keys, now) = try await endpointService.rotateSigningKey(
            announceSeconds: body.announceSeconds, of: call.tenant, msp: call.msp, by: call.caller
        )
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
            status: status, purpose: token.purpose == .connector ? .connector : .device
        )
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

extension Components.Schemas.Device {
    /// A device as the inventory shows it: whether it is behind, and its most recently seen users.
    init(_ inventory: InventoryDevice) {
        self.init(inventory.device)
        behind = inventory.isBehind
        knownUsers = inventory.knownUsers.map(Components.Schemas.KnownUser.init)
        knownUserCount = inventory.knownUserCount
    }
}

extension Components.Schemas.KnownUser {
    init(_ user: KnownUser) {
        self.init(
            sid: user.reported.sid, guid: user.reported.guid?.description, upn: user.reported.upn,
            firstSeenAt: user.firstSeenAt, lastSeenAt: user.lastSeenAt,
            directoryUser: user.directory.map(Components.Schemas.DirectoryUserIdentity.init)
        )
    }
}

extension Components.Schemas.DirectoryUserIdentity {
    init(_ identity: KnownUser.DirectoryIdentity) {
        self.init(
            guid: identity.guid.description, samAccountName: identity.samAccountName,
            userPrincipalName: identity.userPrincipalName, displayName: identity.displayName
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
