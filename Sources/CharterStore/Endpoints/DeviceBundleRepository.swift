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

    /// The current bundles of `devices` that have one; with `locking`, their rows are locked until the
    /// transaction ends, in the order of the device ids (row locks: a batch of any size takes no room in the
    /// server's lock table, unlike ``lock(_:devices:)``).
    package func get(_ tenant: TenantID, devices: [DeviceID], locking: Bool = false) async throws -> [DeviceID: StoredBundle] {
        guard !devices.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            SELECT device_id, version, content_hash, feed_seq, key_state, issued_at, refresh_after, expires_at, compact
            FROM device_bundles
            WHERE tenant_id = \(tenant.rawValue) AND device_id = ANY(\(devices.map(\.rawValue))::uuid[])
            \(unescaped: locking ? "ORDER BY device_id FOR UPDATE" : "")
            """
        )
        var bundles: [DeviceID: StoredBundle] = [:]
        for try await row in rows.decode((UUID, Int64, Data, Int64, String, Date, Date, Date, String).self) {
            bundles[DeviceID(row.0)] = StoredBundle(
                version: row.1, contentHash: row.2, feedSequence: row.3, keyState: row.4, issuedAt: row.5,
                refreshAfter: row.6, expiresAt: row.7, compact: row.8
            )
        }
        return bundles
    }

    /// Locks `devices` until the transaction ends, by advisory locks taken in the order of their ids (so two
    /// batches cannot deadlock): for devices without a bundle row yet, which ``get(_:devices:locking:)`` cannot
    /// lock, so concurrent makers of a first bundle make one, not two. Each takes an entry of the server's lock
    /// table, so only the few devices without a row should go through here.
    package func lock(_ tenant: TenantID, devices: [DeviceID]) async throws {
        guard !devices.isEmpty else { return }
        try await tx.query(
            """
            SELECT pg_advisory_xact_lock(hashtextextended('charter.bundle.' || device::text, 0))
            FROM (SELECT DISTINCT device FROM unnest(\(devices.map(\.rawValue))::uuid[]) AS device ORDER BY device) ordered
            """
        )
    }

    /// Stores the bundles in one statement, each replacing its device's.
    package func put(_ bundles: [(device: DeviceID, bundle: StoredBundle)], tenant: TenantID) async throws {
        guard !bundles.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO device_bundles (tenant_id, device_id, version, content_hash, feed_seq, key_state, issued_at,
                                        refresh_after, expires_at, compact)
            SELECT \(tenant.rawValue), device, version, decode(hash, 'base64'), feed_seq, key_state, issued_at, refresh_after,
                   expires_at, compact
            FROM unnest(
                \(bundles.map(\.device.rawValue))::uuid[], \(bundles.map(\.bundle.version))::bigint[],
                \(bundles.map { $0.bundle.contentHash.base64EncodedString() })::text[],
                \(bundles.map(\.bundle.feedSequence))::bigint[],
                \(bundles.map(\.bundle.keyState))::text[], \(bundles.map(\.bundle.issuedAt))::timestamptz[],
                \(bundles.map(\.bundle.refreshAfter))::timestamptz[], \(bundles.map(\.bundle.expiresAt))::timestamptz[],
                \(bundles.map(\.bundle.compact))::text[]
            ) AS b(device, version, hash, feed_seq, key_state, issued_at, refresh_after, expires_at, compact)
            ON CONFLICT (tenant_id, device_id) DO UPDATE SET
                version = excluded.version, content_hash = excluded.content_hash, feed_seq = excluded.feed_seq,
                key_state = excluded.key_state, issued_at = excluded.issued_at,
                refresh_after = excluded.refresh_after, expires_at = excluded.expires_at, compact = excluded.compact
            """
        )
    }

    /// Records that the content of `devices`' bundles was checked at a newer feed position and found unchanged.
    package func confirm(_ tenant: TenantID, devices: [DeviceID], feedSequence: Int64, keyState: String) async throws {
        guard !devices.isEmpty else { return }
        try await tx.query(
            """
            UPDATE device_bundles SET feed_seq = \(feedSequence), key_state = \(keyState)
            WHERE tenant_id = \(tenant.rawValue) AND device_id = ANY(\(devices.map(\.rawValue))::uuid[])
            """
        )
    }

}
