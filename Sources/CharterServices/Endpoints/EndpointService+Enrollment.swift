package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

extension EndpointService {
    /// A validated `POST /v1/agent/enroll` (docs/agent-protocol.md, "Enrollment").
    package struct Enrollment: Sendable {
        /// A signature by the current key of the device to re-enroll over a fresh challenge and the new keys.
        package struct Proof: Sendable {
            package var device: DeviceID
            package var nonce: String
            package var signature: String

            package init(device: DeviceID, nonce: String, signature: String) {
                self.device = device
                self.nonce = nonce
                self.signature = signature
            }
        }

        package var secret: EnrollmentTokenSecret
        package var hostname: String
        package var os: String?
        package var agentVersion: String
        package var computerSID: String?
        package var computerGUID: ObjectGUID?
        /// The raw X25519 key bundles are encrypted to.
        package var encryptionKey: Data
        /// The raw Ed25519 key of the device.
        package var signingKey: Data
        package var proof: Proof?

        package init(
            secret: EnrollmentTokenSecret, hostname: String, os: String?, agentVersion: String, computerSID: String?,
            computerGUID: ObjectGUID?, encryptionKey: Data, signingKey: Data, proof: Proof?
        ) {
            self.secret = secret
            self.hostname = hostname
            self.os = os
            self.agentVersion = agentVersion
            self.computerSID = computerSID
            self.computerGUID = computerGUID
            self.encryptionKey = encryptionKey
            self.signingKey = signingKey
            self.proof = proof
        }
    }

    /// What an enrollment gives the device.
    package struct Enrolled: Sendable {
        package var device: Device
        /// The device token (`chtd_…`), shown once.
        package var deviceToken: String
        package var tenant: TenantID
        package var issuer: String
        package var signingKeys: [BundleSigningKey]
        /// Whether an existing device's keys were replaced (on proof by its key).
        package var isReenrollment: Bool
    }

    /// Enrolls a device, or re-enrolls the one a proof names: one transaction that spends a use of the
    /// enrollment token, creates or updates the device, makes the tenant's first signing key if needed and
    /// records `device.enrolled`, `device.enrollment_pending` or `device.reenrolled`.
    ///
    /// Without a proof a newcomer never takes over: if an enrolled (or revoked) device stands for the same
    /// computer, the newcomer waits for an administrator (``Device/isPendingApproval``).
    ///
    /// - Parameters:
    ///   - admit: Counts the enrollment against the rate limits of its token and tenant, once the token is known.
    /// - Throws: ``EndpointError`` for a token, proof or signing key that does not hold; `QuotaExceeded` when
    ///   the tenant has its quota of devices.
    package func enroll(
        _ request: Enrollment, from origin: Origin, admit: (TenantID) throws -> Void
    ) async throws -> Enrolled {
        let keys = try requireKeys()
        let credential = try await database.readWithoutTenant(logger: origin.logger) { tx in
            try await tx.enrollmentTokens.credential(for: request.secret.id)
        }
        // A connector's token enrolls no device: refused as an unknown one, so the answer says nothing of it.
        guard let credential, request.secret.matches(credential.secretHash), credential.purpose == .device else {
            throw EndpointError.invalidEnrollmentToken
        }
        try admit(credential.tenant)
        let caller = Caller(
            principal: nil,
            actor: AuditRecord.Actor(
                id: request.secret.id.rawValue, name: "enrollment token", requestID: origin.requestID,
                clientIP: origin.clientIP
            ),
            logger: origin.logger
        )
        do {
            return try await database.withTenant(credential.tenant, msp: credential.msp, logger: origin.logger) { tx in
                try await enroll(request, tenant: credential.tenant, keys: keys, by: caller, in: tx, now: now())
            }
        } catch StoreError.alreadyExists {
            // Another enrollment registered the same signing key meanwhile.
            throw EndpointError.signingKeyTaken
        }
    }

    private func enroll(
        _ request: Enrollment, tenant: TenantID, keys: Keys, by caller: Caller, in tx: Transaction, now: Date
    ) async throws -> Enrolled {
        guard try await tx.enrollmentTokens.use(tenant, id: request.secret.id, at: now) else {
            throw EndpointError.invalidEnrollmentToken
        }
        let computer = try await tx.devices.findComputer(
            tenant, guid: request.computerGUID, sid: request.computerSID, hostname: request.hostname
        )
        let existing = try await request.proof.asyncMap { proof in
            try await provenDevice(proof, of: request, tenant: tenant, in: tx, now: now)
        }
        var claimed: [Device] = []
        if existing == nil {
            claimed = try await claimedDevices(by: request, computer: computer, in: tenant, tx: tx)
        }
        guard !(try await tx.devices.isSigningKeyTaken(tenant, request.signingKey, excluding: existing?.id)) else {
            throw EndpointError.signingKeyTaken
        }
        let deviceToken = existing.map { DeviceToken.generate(for: $0.id) } ?? DeviceToken.generate()
        let pin = OfflinePIN.generate()
        let device = Device(
            id: deviceToken.id, hostname: request.hostname, os: request.os, agentVersion: request.agentVersion,
            reportedSID: request.computerSID, reportedGUID: request.computerGUID, computer: computer,
            encryptionKey: request.encryptionKey, signingKey: request.signingKey,
            pinSecretSealed: try keys.sealer.seal(pin.secret, context: BundleService.pinSealingContext(deviceToken.id))
                .description,
            enrolledAt: existing?.enrolledAt ?? now, isPendingApproval: existing?.isPendingApproval ?? !claimed.isEmpty,
            tokenExpiresAt: now.addingTimeInterval(limits.deviceTokenLifetime)
        )
        if existing != nil {
            try await tx.devices.reenroll(
                device, in: tenant, tokenHash: deviceToken.secretHash, enrollmentToken: request.secret.id, at: now
            )
        } else {
            try await tx.quotas.admitOne(more: .devices, in: tenant, limit: limits.devicesPerTenant)
            try await tx.devices.create(
                device, in: tenant, tokenHash: deviceToken.secretHash, enrollmentToken: request.secret.id
            )
        }
        let signingKeys = try await keys.keyring.ensureKeys(of: tenant, in: tx, now: now)
        let after = device.auditSnapshot(claiming: claimed.map(\.id))
        let action = existing != nil ? "device.reenrolled" : claimed.isEmpty ? "device.enrolled" : "device.enrollment_pending"
        try await tx.audit.record(
            action, on: ("device", device.id.description), before: existing?.auditSnapshot, after: after, by: caller,
            at: now, in: .tenant(tenant)
        )
        if existing != nil {
            // The streams opened with the old key material end everywhere.
            try await tx.changeFeed.append(tenant, event: .disconnect, devices: [device.id], data: "{}")
        }
        return Enrolled(
            device: device, deviceToken: deviceToken.string, tenant: tenant, issuer: BundleService.issuer(of: tenant),
            signingKeys: SigningKeyring.published(signingKeys, at: now), isReenrollment: existing != nil
        )
    }

    /// The devices a newcomer without proof would stand beside: the enrolled ones for its computer, or else the
    /// revoked ones.
    private func claimedDevices(
        by request: Enrollment, computer: ObjectGUID?, in tenant: TenantID, tx: Transaction
    ) async throws -> [Device] {
        for revoked in [false, true] {
            let devices = try await tx.devices.standingFor(
                tenant, computer: computer, reportedGUID: request.computerGUID, reportedSID: request.computerSID,
                hostname: request.hostname, revoked: revoked
            )
            if !devices.isEmpty { return devices }
        }
        return []
    }

    /// The device a re-enrollment proof names, once the proof holds: a fresh challenge signed by the device's
    /// current key over the new keys.
    private func provenDevice(
        _ proof: Enrollment.Proof, of request: Enrollment, tenant: TenantID, in tx: Transaction, now: Date
    ) async throws -> Device {
        guard let challengeExpiry = try requireKeys().challenges.expiry(of: proof.nonce, now: now) else {
            throw EndpointError.staleProofChallenge
        }
        let device: Device
        do {
            device = try await tx.devices.get(tenant, id: proof.device)
        } catch StoreError.notFound {
            throw EndpointError.unknownProofDevice
        }
        guard device.revokedAt == nil else { throw EndpointError.revokedProofDevice }
        let message = DeviceProof.reenrollmentMessage(
            nonce: proof.nonce, deviceID: proof.device.description, encryptionKey: request.encryptionKey,
            signingKey: request.signingKey
        )
        guard Self.verifies(proof.signature, by: device.signingKey, over: message) else {
            throw EndpointError.invalidProofSignature
        }
        guard try await tx.agentChallenges.spend(nonceHash: Self.hash(proof.nonce), expiresAt: challengeExpiry, now: now)
        else { throw EndpointError.staleProofChallenge }
        return device
    }
}

extension Optional {
    /// The wrapped value transformed by an async closure.
    fileprivate func asyncMap<Mapped>(_ transform: (Wrapped) async throws -> Mapped) async rethrows -> Mapped? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
