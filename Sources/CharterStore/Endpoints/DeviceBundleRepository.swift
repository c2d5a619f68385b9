package import CharterCore
package import Foundation
import PostgresNIO

/// The current bundle of a device and what it was made from.
package struct StoredBundle: Hashable, Sendable {
    package var version: Int64
    package var contentHash: Data
    /// The tenant's change-feed position the content was worked out at.
    package var feedSequence: Int64
    /// The signing-key statuses the bundle announced.
    package var keyState: String
    package var issuedAt: Date
    package var refreshAfter: Date
    package var expiresAt: Date
    /// The compact JWE.
    package var compact: String

    package init(
        version: Int64, contentHash: Data, feedSequence: Int64, keyState: String, issuedAt: Date, refreshAfter: Date,
        expiresAt: Date, compact: String
    ) {
        self.version = version
        self.contentHash = contentHash
        self.feedSequence = feedSequence
        self.keyState = keyState
        self.issuedAt = issuedAt
        self.refreshAfter = refreshAfter
        self.expiresAt = expiresAt
        self.compact = compact
    }
}

/// The current bundle of each device.
package struct DeviceBundleRepository: Sendable {
    let tx: Transaction

    package func get(_ tenant: TenantID, device: DeviceID) async throws -> StoredBundle? {
        let rows = try await tx.query(
            """
            SELECT version, content_hash, feed_seq, key_state, issued_at, refresh_after, expires_at, compact
            FROM device_bundles WHERE tenant_id = \(tenant.rawValue) AND device_id = \(device.rawValue)
            """
        )
        for try await row in rows.decode((Int64, Data, Int64, String, Date, Date, Date, String).self) {
            return StoredBundle(
                version: row.0, contentHash: row.1, feedSequence: row.2, keyState: row.3, issuedAt: row.4,
                refreshAfter: row.5, expiresAt: row.6, compact: row.7
            )
        }
        return nil
    }

    /// Locks the device's bundle row (or the device, before its first bundle) until the transaction ends, so
    /// concurrent fetches of one device make one new version, not two.
    package func lock(_ tenant: TenantID, device: DeviceID) async throws {
        try await tx.query(
            "SELECT pg_advisory_xact_lock(hashtextextended('charter.bundle.' || \(device.description), 0))"
        )
    }

    package func put(_ bundle: StoredBundle, tenant: TenantID, device: DeviceID) async throws {
        try await tx.query(
            """
            INSERT INTO device_bundles (tenant_id, device_id, version, content_hash, feed_seq, key_state, issued_at,
                                        refresh_after, expires_at, compact)
            VALUES (\(tenant.rawValue), \(device.rawValue), \(bundle.version), \(bundle.contentHash),
                    \(bundle.feedSequence), \(bundle.keyState), \(bundle.issuedAt), \(bundle.refreshAfter),
                    \(bundle.expiresAt), \(bundle.compact))
            ON CONFLICT (tenant_id, device_id) DO UPDATE SET
                version = excluded.version, content_hash = excluded.content_hash, feed_seq = excluded.feed_seq,
                key_state = excluded.key_state, issued_at = excluded.issued_at,
                refresh_after = excluded.refresh_after, expires_at = excluded.expires_at, compact = excluded.compact
            """
        )
    }

    /// Records that the content was checked at a newer feed position and found unchanged.
    package func confirm(_ tenant: TenantID, device: DeviceID, feedSequence: Int64, keyState: String) async throws {
        try await tx.query(
            """
            UPDATE device_bundles SET feed_seq = \(feedSequence), key_state = \(keyState)
            WHERE tenant_id = \(tenant.rawValue) AND device_id = \(device.rawValue)
            """
        )
    }
}
