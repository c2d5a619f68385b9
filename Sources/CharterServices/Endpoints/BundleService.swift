package import CharterBundle
package import CharterCore
package import CharterStore
import Crypto
package import Foundation

/// Keeps every device's current bundle: works its content out again when the tenant's change feed or
/// signing keys moved, raises `ver` only when the content differs, and re-issues an unchanged bundle once it
/// is past `refresh_after`.
package struct BundleService: Sendable {
    /// How long after issue an agent should fetch again (capped by the bundle's expiry).
    package static let refreshInterval: TimeInterval = 3600
    /// How far `nbf` is back-dated, for endpoint clocks that run slow.
    package static let backdating: TimeInterval = 300
    /// Users seen on a device longer ago than this leave its bundle.
    package static let userRetention: TimeInterval = 90 * 86_400
    /// The most users one bundle carries (the most recently seen).
    package static let maximumUsers = 200

    package let keyring: SigningKeyring
    package let sealer: SecretSealer
    package let policies = TenantPolicyCache()

    package init(keyring: SigningKeyring, sealer: SecretSealer) {
        self.keyring = keyring
        self.sealer = sealer
    }

    package static func issuer(of tenant: TenantID) -> String {
        "urn:charter:tenant:\(tenant)"
    }

    package static func pinSealingContext(_ device: DeviceID) -> String {
        "devices/\(device)/pin"
    }

    /// The device's current bundle, made or refreshed if needed.
    package func current(for device: Device, of tenant: TenantID, in tx: Transaction, now: Date) async throws -> StoredBundle {
        let keys = try await keyring.ensureKeys(of: tenant, in: tx, now: now)
        let keyState = SigningKeyring.state(keys, at: now)
        let position = try await tx.changeFeed.bundlePosition(of: tenant)
        if let stored = try await tx.deviceBundles.get(tenant, device: device.id),
            stored.feedSequence == position, stored.keyState == keyState, now < stored.refreshAfter
        {
            return stored
        }
        try await tx.deviceBundles.lock(tenant, device: device.id)
        let stored = try await tx.deviceBundles.get(tenant, device: device.id)
        if let stored, stored.feedSequence == position, stored.keyState == keyState, now < stored.refreshAfter {
            return stored
        }
        let content = try await self.content(for: device, of: tenant, keys: keys, in: tx, now: now)
        let contentHash = Data(SHA256.hash(data: content.canonicalData))
        if let stored, stored.contentHash == contentHash, now < stored.refreshAfter {
            try await tx.deviceBundles.confirm(tenant, device: device.id, feedSequence: position, keyState: keyState)
            return stored
        }
        let version = stored.map { $0.contentHash == contentHash ? $0.version : $0.version + 1 } ?? 1
        let expiresAt = now.addingTimeInterval(content.lifetime)
        let claims = BundleClaims(
            issuer: Self.issuer(of: tenant),
            deviceID: device.id.description,
            tenant: tenant.description,
            version: version,
            issuedAt: now,
            notBefore: now.addingTimeInterval(-Self.backdating),
            expiresAt: expiresAt,
            refreshAfter: min(now.addingTimeInterval(Self.refreshInterval), expiresAt),
            policy: content.policy,
            pin: content.pin,
            signingKeys: content.signingKeys
        )
        let deviceKey = try JWK(curve: .x25519, x: device.encryptionKey)
        let compact = try keyring.issuer(for: tenant, keys: keys, at: now).issue(claims, to: deviceKey)
        let bundle = StoredBundle(
            version: version, contentHash: contentHash, feedSequence: position, keyState: keyState,
            issuedAt: claims.issuedAt, refreshAfter: claims.refreshAfter, expiresAt: expiresAt, compact: compact
        )
        try await tx.deviceBundles.put(bundle, tenant: tenant, device: device.id)
        return bundle
    }

    /// What a bundle carries besides its times and version.
    struct Content {
        var issuer: String
        var device: DeviceID
        var tenant: TenantID
        var policy: BundlePolicy
        var pin: OfflinePIN
        var signingKeys: [BundleSigningKey]
        /// From issue to hard expiry: the computer policy's offline grace period, at least an hour.
        var lifetime: TimeInterval

        /// The canonical encoding whose hash decides whether the version rises.
        var canonicalData: Data {
            JSONValue.object([
                "iss": .string(issuer),
                "sub": .string(device.description),
                "tenant": .string(tenant.description),
                "policy": policy.jsonValue,
                "pin": pin.jsonValue,
                "signing_keys": .array(signingKeys.map(\.jsonValue)),
                "lifetime": .integer(Int64(lifetime)),
            ]).canonicalData
        }
    }

    func content(
        for device: Device, of tenant: TenantID, keys: [StoredSigningKey], in tx: Transaction, now: Date
    ) async throws -> Content {
        var computer = device.computer
        if computer == nil {
            computer = try await tx.devices.findComputer(
                tenant, guid: device.reportedGUID, sid: device.reportedSID, hostname: device.hostname
            )
            if let computer { try await tx.devices.link(tenant, id: device.id, to: computer) }
        }
        let seen = try await tx.devices.users(
            tenant, of: device.id, since: now.addingTimeInterval(-Self.userRetention), limit: Self.maximumUsers
        )
        let users = try await tx.devices.directoryUsers(tenant, matching: seen)
        let policy = try await policies.current(of: tenant, in: tx)
        let facts = try await tx.policyFacts.facts(about: (computer.map { [$0] } ?? []) + users.map(\.guid), in: tenant)

        var documents = BundlePolicy.DocumentTable()
        let computerPolicy = policy.resolver.resolve(for: nil, on: computer, in: facts)
        let computerDocument = documents.add(try policy.document(for: computerPolicy))
        var entries: [BundlePolicy.User] = []
        for (user, guid) in users {
            let document = documents.add(try policy.document(for: policy.resolver.resolve(for: guid, on: computer, in: facts)))
            entries.append(
                BundlePolicy.User(sid: user.sid, guid: guid.description, upn: user.upn, document: document)
            )
        }
        let pinSecret = try sealer.open(device.pinSecretSealed, context: Self.pinSealingContext(device.id))
        return Content(
            issuer: Self.issuer(of: tenant),
            device: device.id,
            tenant: tenant,
            policy: BundlePolicy(
                encodedDocuments: documents.byID, computer: computerDocument, defaultUser: computerDocument,
                users: entries
            ),
            pin: try OfflinePIN(secret: pinSecret),
            signingKeys: SigningKeyring.published(keys, at: now),
            lifetime: TimeInterval(max(1, computerPolicy.settings.endpoint.offlineGracePeriodHours) * 3600)
        )
    }
}
