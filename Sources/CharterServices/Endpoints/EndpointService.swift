package import CharterBundle
package import CharterCore
package import CharterStore
import Crypto
package import Foundation
package import Logging

/// The endpoint area: enrollment, device tokens, bundles, check-ins, endpoint audit uploads, PIN answers and
/// signing keys, for the agent API and the admin API alike.
///
/// Each operation is one call and, where it writes, one transaction that records its audit event. Challenges
/// are minted without a row (``ServerChallenges``) and spent in the transaction that a valid signature over
/// one completes, so each works once.
package struct EndpointService: Sendable {
    /// The quotas and lifetimes the operations enforce.
    package struct Limits: Sendable {
        /// Devices one tenant may enroll.
        package var devicesPerTenant: Int
        /// Users one device keeps; check-ins forget the least recently seen beyond it.
        package var knownUsersPerDevice: Int
        /// How long a device token works before the agent must renew it.
        package var deviceTokenLifetime: TimeInterval

        package init(devicesPerTenant: Int, knownUsersPerDevice: Int, deviceTokenLifetime: TimeInterval) {
            self.devicesPerTenant = devicesPerTenant
            self.knownUsersPerDevice = knownUsersPerDevice
            self.deviceTokenLifetime = deviceTokenLifetime
        }
    }

    /// What needs the key-encryption key: PIN secrets and signing keys are sealed with it, challenges keyed by it.
    package struct Keys: Sendable {
        package let sealer: SecretSealer
        package let keyring: SigningKeyring
        package let bundles: BundleService
        package let challenges: ServerChallenges

        package init(sealer: SecretSealer) {
            self.sealer = sealer
            self.challenges = ServerChallenges(sealer: sealer)
            self.keyring = SigningKeyring(sealer: sealer)
            self.bundles = BundleService(keyring: keyring, sealer: sealer)
        }
    }

    /// A device whose token held: its transactions are confined to its tenant.
    package struct AuthenticatedDevice: Sendable, Hashable {
        package let device: DeviceID
        /// The tenant and MSP its credential was read with.
        package let binding: TenantBinding
        package var tenant: TenantID { binding.tenant }
        package var msp: MSPID { binding.msp }

        package init(device: DeviceID, binding: TenantBinding) {
            self.device = device
            self.binding = binding
        }
    }

    /// Where an agent request came from, for its audit events and logs.
    package struct Origin: Sendable {
        package var requestID: String?
        package var clientIP: String?
        package var logger: Logger

        package init(requestID: String?, clientIP: String?, logger: Logger) {
            self.requestID = requestID
            self.clientIP = clientIP
            self.logger = logger
        }
    }

    package let database: Database
    private let keys: Keys?
    package let limits: Limits
    /// Closes the device's streams on this replica at once; other replicas do when they read the feed entry.
    let disconnect: @Sendable (DeviceID) async -> Void
    let now: @Sendable () -> Date
    /// Alerts are emailed too (the server sends email: `smtp.host` is set).
    package let emailsAlerts: Bool

    /// - Parameters:
    ///   - sealer: The key-encryption key's sealer; without it the operations that seal or sign answer
    ///     ``EndpointError/noKeyEncryptionKey``.
    ///   - disconnect: Ends the device's event streams on this replica.
    package init(
        database: Database, sealer: SecretSealer?, limits: Limits,
        disconnect: @escaping @Sendable (DeviceID) async -> Void = { _ in }, emailsAlerts: Bool = false,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.emailsAlerts = emailsAlerts
        self.database = database
        self.keys = sealer.map(Keys.init)
        self.limits = limits
        self.disconnect = disconnect
        self.now = now
    }

    /// The sealer, keyring and bundle maker.
    ///
    /// - Throws: ``EndpointError/noKeyEncryptionKey`` when no key-encryption key is configured.
    package func requireKeys() throws(EndpointError) -> Keys {
        guard let keys else { throw .noKeyEncryptionKey }
        return keys
    }

    // MARK: - Device tokens

    /// The device `token` names.
    ///
    /// - Throws: ``EndpointError/invalidDeviceToken`` for a missing, unknown, replaced or revoked token,
    ///   ``EndpointError/deviceTokenExpired`` for an expired one, ``EndpointError/pendingApproval`` for a
    ///   device an administrator has not approved.
    package func identify(_ token: DeviceToken?, logger: Logger) async throws -> AuthenticatedDevice {
        guard let token else { throw EndpointError.invalidDeviceToken }
        let credential = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.devices.credential(for: token.id)
        }
        guard let credential else { throw EndpointError.invalidDeviceToken }
        let expiresAt: Date
        if token.matches(credential.tokenHash) {
            expiresAt = credential.tokenExpiresAt
        } else if let previous = credential.previousTokenHash, let previousExpiresAt = credential.previousTokenExpiresAt,
            token.matches(previous)
        {
            expiresAt = previousExpiresAt
        } else {
            throw EndpointError.invalidDeviceToken
        }
        guard expiresAt > now() else { throw EndpointError.deviceTokenExpired }
        guard !credential.isPendingApproval else { throw EndpointError.pendingApproval }
        return AuthenticatedDevice(device: token.id, binding: credential.binding)
    }

    /// A single-use nonce for a device to sign (renewal, re-enrollment proof), valid
    /// ``ServerChallenges/lifetime``; minted without touching the database.
    ///
    /// - Throws: ``EndpointError/noKeyEncryptionKey``.
    package func issueChallenge() throws(EndpointError) -> (nonce: String, expiresAt: Date) {
        try requireKeys().challenges.mint(now: now())
    }

    /// A new device token for a signature by the device key over a challenge
    /// (``DeviceProof/renewalMessage(nonce:deviceID:)``).
    ///
    /// - Throws: ``EndpointError/staleChallenge``, ``EndpointError/renewalRefused``, or
    ///   ``EndpointError/invalid(_:field:)`` for a device id that is not a UUID.
    package func renewToken(
        device raw: String, nonce: String, signature: String, logger: Logger
    ) async throws -> (token: String, expiresAt: Date) {
        guard let device = DeviceID(raw) else {
            throw EndpointError.invalid("device_id must be the device id (a UUID).", field: "/device_id")
        }
        let now = now()
        guard let challengeExpiry = try requireKeys().challenges.expiry(of: nonce, now: now) else {
            throw EndpointError.staleChallenge
        }
        let identity = try await database.readWithoutTenant(logger: logger) { tx in
            try await tx.devices.signingIdentity(for: device)
        }
        let message = DeviceProof.renewalMessage(nonce: nonce, deviceID: device.description)
        guard let identity, Self.verifies(signature, by: identity.signingKey, over: message) else {
            throw EndpointError.renewalRefused
        }
        let token = DeviceToken.generate(for: device)
        let expiresAt = now.addingTimeInterval(limits.deviceTokenLifetime)
        try await database.withTenant(identity.binding, logger: logger) { tx in
            // Spent only now, with a signature that holds: a used challenge cannot be replayed.
            guard try await tx.agentChallenges.spend(nonceHash: Self.hash(nonce), expiresAt: challengeExpiry, now: now)
            else { throw EndpointError.staleChallenge }
            try await tx.devices.renewToken(identity.tenant, id: device, tokenHash: token.secretHash, expiresAt: expiresAt)
        }
        return (token.string, expiresAt)
    }

    static func hash(_ nonce: String) -> [UInt8] {
        Array(SHA256.hash(data: Data(nonce.utf8)))
    }

    /// Whether `signature` (unpadded base64url) is an Ed25519 signature of `message` by `publicKey`.
    static func verifies(_ signature: String, by publicKey: Data, over message: Data) -> Bool {
        guard let signature = Base64URL.decode(signature),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey)
        else { return false }
        return key.isValidSignature(signature, for: message)
    }
}
