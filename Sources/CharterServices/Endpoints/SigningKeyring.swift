package import CharterBundle
package import CharterCore
package import CharterStore
import Crypto
package import Foundation
import Synchronization

/// A tenant's bundle-signing keys: the first one made on demand, rotation, the statuses bundles announce,
/// and an issuer for the active key, unsealed once per process.
///
/// A key is `next` before its activation time, `active` from then until it retires, `retired` after. A
/// rotation adds a key that activates after the announcement window and retires the current key at that
/// same moment, so every bundle issued during the window, signed by the current key, announces the next.
package final class SigningKeyring: Sendable {
    private let sealer: SecretSealer
    private let issuers = Mutex<[String: BundleIssuer]>([:])

    package init(sealer: SecretSealer) {
        self.sealer = sealer
    }

    private static func sealingContext(_ tenant: TenantID, keyID: String) -> String {
        "signing_keys/\(tenant)/\(keyID)"
    }

    package static func status(of key: StoredSigningKey, at now: Date) -> BundleSigningKey.Status {
        if now < key.activatesAt { return .next }
        if let retiresAt = key.retiresAt, now >= retiresAt { return .retired }
        return .active
    }

    /// The tenant's keys, after making its first one if it has none.
    package func ensureKeys(of tenant: TenantID, in tx: Transaction, now: Date) async throws -> [StoredSigningKey] {
        let keys = try await tx.signingKeys.list(tenant)
        if keys.contains(where: { Self.status(of: $0, at: now) == .active }) { return keys }
        try await tx.signingKeys.lock(tenant)
        let locked = try await tx.signingKeys.list(tenant)
        if locked.contains(where: { Self.status(of: $0, at: now) == .active }) { return locked }
        let key = try makeKey(for: tenant, activatesAt: now, now: now)
        try await tx.signingKeys.insert(key, in: tenant)
        return locked + [key]
    }

    /// Adds the next key, active after `announcement`; the current key retires when it activates.
    ///
    /// - Throws: ``EndpointError/rotationAlreadyAnnounced`` when a rotation is already announced.
    package func rotate(
        _ tenant: TenantID, announcement: TimeInterval, in tx: Transaction, now: Date
    ) async throws -> StoredSigningKey {
        let keys = try await ensureKeys(of: tenant, in: tx, now: now)
        try await tx.signingKeys.lock(tenant)
        if keys.contains(where: { Self.status(of: $0, at: now) == .next }) {
            throw EndpointError.rotationAlreadyAnnounced
        }
        let activatesAt = now.addingTimeInterval(announcement)
        let key = try makeKey(for: tenant, activatesAt: activatesAt, now: now)
        for current in keys where Self.status(of: current, at: now) == .active {
            try await tx.signingKeys.retire(tenant, keyID: current.keyID, at: activatesAt)
        }
        try await tx.signingKeys.insert(key, in: tenant)
        return key
    }

    private func makeKey(for tenant: TenantID, activatesAt: Date, now: Date) throws -> StoredSigningKey {
        let privateKey = Curve25519.Signing.PrivateKey()
        let keyID = JWK(privateKey.publicKey).thumbprint
        let sealed = try sealer.seal(privateKey.rawRepresentation, context: Self.sealingContext(tenant, keyID: keyID))
        return StoredSigningKey(
            keyID: keyID, publicKey: privateKey.publicKey.rawRepresentation, privateKeySealed: sealed.description,
            createdAt: now, activatesAt: activatesAt, retiresAt: nil
        )
    }

    /// The keys as published (JWKS, enrollment answer, `signing_keys` claim): every key that is not retired.
    package static func published(_ keys: [StoredSigningKey], at now: Date) -> [BundleSigningKey] {
        keys.compactMap { key in
            let status = status(of: key, at: now)
            guard status != .retired, let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: key.publicKey)
            else { return nil }
            return BundleSigningKey(key: JWK(publicKey), status: status)
        }
    }

    /// Every key with its status now, retired ones included (the admin view).
    package static func all(_ keys: [StoredSigningKey], at now: Date) -> [(key: StoredSigningKey, status: BundleSigningKey.Status)] {
        keys.map { ($0, status(of: $0, at: now)) }
    }

    /// A short text that changes whenever the published keys or their statuses do.
    package static func state(_ keys: [StoredSigningKey], at now: Date) -> String {
        published(keys, at: now).map { "\($0.keyID):\($0.status.rawValue)" }.joined(separator: ",")
    }

    /// An issuer for the tenant's active key.
    ///
    /// - Throws: ``EndpointError/noActiveSigningKey`` when none is active.
    package func issuer(for tenant: TenantID, keys: [StoredSigningKey], at now: Date) throws -> BundleIssuer {
        guard let active = keys.last(where: { Self.status(of: $0, at: now) == .active }) else {
            throw EndpointError.noActiveSigningKey
        }
        if let cached = issuers.withLock({ $0[active.keyID] }) { return cached }
        let raw = try sealer.open(active.privateKeySealed, context: Self.sealingContext(tenant, keyID: active.keyID))
        let issuer = BundleIssuer(signingKey: try Curve25519.Signing.PrivateKey(rawRepresentation: raw))
        issuers.withLock { $0[active.keyID] = issuer }
        return issuer
    }
}
