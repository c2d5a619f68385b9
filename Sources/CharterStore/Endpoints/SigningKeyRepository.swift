package import CharterCore
package import Foundation
import PostgresNIO

/// A tenant's bundle-signing key as stored: public key in the clear, private key sealed.
package struct StoredSigningKey: Hashable, Sendable {
    /// The RFC 7638 thumbprint of the public key.
    package var keyID: String
    package var publicKey: Data
    package var privateKeySealed: String
    package var createdAt: Date
    /// From when the key signs; before it the key is announced as `next`.
    package var activatesAt: Date
    /// From when the key no longer signs.
    package var retiresAt: Date?

    package init(
        keyID: String, publicKey: Data, privateKeySealed: String, createdAt: Date, activatesAt: Date, retiresAt: Date?
    ) {
        self.keyID = keyID
        self.publicKey = publicKey
        self.privateKeySealed = privateKeySealed
        self.createdAt = createdAt
        self.activatesAt = activatesAt
        self.retiresAt = retiresAt
    }
}

/// A tenant's bundle-signing keys.
package struct SigningKeyRepository: Sendable {
    let tx: Transaction

    /// Every key of the tenant, oldest activation first.
    package func list(_ tenant: TenantID) async throws -> [StoredSigningKey] {
        let rows = try await tx.query(
            """
            SELECT kid, public_key, private_key_sealed, created_at, activates_at, retires_at FROM signing_keys
            WHERE tenant_id = \(tenant.rawValue) ORDER BY activates_at, kid
            """
        )
        var keys: [StoredSigningKey] = []
        for try await (kid, key, sealed, created, activates, retires) in rows.decode(
            (String, Data, String, Date, Date, Date?).self
        ) {
            keys.append(
                StoredSigningKey(
                    keyID: kid, publicKey: key, privateKeySealed: sealed, createdAt: created, activatesAt: activates,
                    retiresAt: retires
                )
            )
        }
        return keys
    }

    package func insert(_ key: StoredSigningKey, in tenant: TenantID) async throws {
        try await tx.query(
            """
            INSERT INTO signing_keys (tenant_id, kid, public_key, private_key_sealed, created_at, activates_at, retires_at,
                                      takeover_hint_due)
            VALUES (\(tenant.rawValue), \(key.keyID), \(key.publicKey), \(key.privateKeySealed), \(key.createdAt),
                    \(key.activatesAt), \(key.retiresAt), \(key.activatesAt > key.createdAt))
            """
        )
    }

    /// Sets when a key stops signing.
    package func retire(_ tenant: TenantID, keyID: String, at date: Date) async throws {
        try await tx.query(
            "UPDATE signing_keys SET retires_at = \(date) WHERE tenant_id = \(tenant.rawValue) AND kid = \(keyID)"
        )
    }

    /// The tenants (of every MSP) with a key that took over and whose devices were not told yet.
    package func takeoversDue() async throws -> [(tenant: TenantID, msp: MSPID)] {
        let rows = try await tx.query("SELECT tenant_id, msp_id FROM charter_private.signing_key_takeovers_due()")
        var due: [(tenant: TenantID, msp: MSPID)] = []
        for try await (tenant, msp) in rows.decode((UUID, UUID).self) { due.append((TenantID(tenant), MSPID(msp))) }
        return due
    }

    /// Claims the tenant's keys that took over by `now` and were not hinted yet; only one caller gets them.
    ///
    /// - Returns: Whether there were any (the caller then appends the hint in the same transaction).
    package func claimTakeovers(_ tenant: TenantID, at now: Date) async throws -> Bool {
        let rows = try await tx.query(
            """
            UPDATE signing_keys SET takeover_hint_due = false
            WHERE tenant_id = \(tenant.rawValue) AND takeover_hint_due AND activates_at <= \(now)
            RETURNING kid
            """
        )
        var claimed = false
        for try await _ in rows { claimed = true }
        return claimed
    }

    /// Serialises key creation within a tenant, so two requests cannot both create a first key.
    package func lock(_ tenant: TenantID) async throws {
        try await tx.query(
            "SELECT pg_advisory_xact_lock(hashtextextended('charter.signing_keys.' || \(tenant.description), 0))"
        )
    }
}
