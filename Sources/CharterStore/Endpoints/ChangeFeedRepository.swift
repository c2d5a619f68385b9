package import CharterCore
import CharterJSON
import Foundation
import PostgresNIO

/// One row of the change feed: a hint for some or all devices of a tenant.
package struct ChangeFeedEntry: Hashable, Sendable {
    package enum Event: String, Hashable, Sendable {
        case bundle
        case decision
        /// Not sent to agents: every replica closes the streams of the devices named (revocation).
        case disconnect
        /// A command for the connectors whose ids the entry names (in `devices`' column): its data is
        /// `{"event": <server-sent event name>, "data": <its data object>}` (docs/connector-protocol.md).
        case connector
    }

    package var sequence: Int64
    package var tenant: TenantID
    package var event: Event
    /// The devices concerned; `nil` for every device of the tenant.
    package var devices: [DeviceID]?
    /// The JSON object sent as the event's data.
    package var data: String

    package init(sequence: Int64, tenant: TenantID, event: Event, devices: [DeviceID]?, data: String) {
        self.sequence = sequence
        self.tenant = tenant
        self.event = event
        self.devices = devices
        self.data = data
    }

    /// Whether the entry concerns `device`.
    package func concerns(_ device: DeviceID) -> Bool {
        devices?.contains(device) ?? true
    }
}

/// Where a replica stands in the whole change feed: the newest sequence number its last read showed, and the
/// transactions (`xid8`) still running then, whose rows are the only ones that can still appear below it
/// (migration 0026).
package struct ChangeFeedCursor: Hashable, Sendable {
    package var head: Int64
    package var pending: [UInt64]

    package init(head: Int64, pending: [UInt64]) {
        self.head = head
        self.pending = pending
    }

    /// Reads nothing: the read it is given to only takes the feed's position.
    package static let start = ChangeFeedCursor(head: .max, pending: [])
}

/// What a change-feed notification's payload says: the tenant and sequence number of the entry appended, or
/// that a batch of several tenants' entries was (payload `*`).
package struct ChangeFeedNotification: Hashable, Sendable {
    package var tenant: TenantID
    package var sequence: Int64

    package init(tenant: TenantID, sequence: Int64) {
        self.tenant = tenant
        self.sequence = sequence
    }

    /// The payload of a batch's notification.
    package static let batch = "*"

    /// `<tenant id>:<sequence number>`.
    package var payload: String { "\(tenant):\(sequence)" }

    /// The entry a payload names; `nil` for a batch's, or for one this version does not read.
    package init?(payload: String) {
        let parts = payload.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let tenant = UUID(uuidString: String(parts[0])), let sequence = Int64(parts[1]) else {
            return nil
        }
        self.init(tenant: TenantID(tenant), sequence: sequence)
    }
}

/// The durable change feed behind real-time hints (docs/architecture.md, "Real time").
package struct ChangeFeedRepository: Sendable {
    /// The channel writers notify and replicas listen on; the payload is the new sequence number.
    package static let channel = "charter_changes"

    let tx: Transaction

    /// Appends an entry; it becomes visible, and is notified, when the transaction commits.
    ///
    /// A tenant's appends are serialised by a transaction-scoped advisory lock of that tenant (migration 0026),
    /// so a tenant's sequence numbers become visible in order: a reader that has seen a tenant's N has seen
    /// every entry of the tenant before N. Other tenants' appends do not wait. Call this last in a transaction,
    /// and for one tenant only (a write that hints several tenants appends them as one batch).
    @discardableResult
    package func append(
        _ tenant: TenantID, event: ChangeFeedEntry.Event, devices: [DeviceID]?, data: String
    ) async throws -> Int64 {
        try await tx.query("SELECT charter_private.lock_change_feed(ARRAY[\(tenant.rawValue)]::uuid[])")
        let rows = try await tx.query(
            """
            INSERT INTO change_feed (tenant_id, event, device_ids, data)
            VALUES (\(tenant.rawValue), \(event.rawValue), \(devices?.map(\.rawValue))::uuid[], \(data))
            RETURNING seq
            """
        )
        var sequence: Int64 = 0
        for try await seq in rows.decode(Int64.self) { sequence = seq }
        try await notify(ChangeFeedNotification(tenant: tenant, sequence: sequence).payload)
        return sequence
    }

    /// Appends one entry per element of `entries`, for tenants of the MSP selected on the transaction, in one
    /// statement (migration 0025: each tenant selected in turn on the server, as row-level security wants),
    /// under the tenants' locks (taken in one call, in a fixed order), and notifies once (a replica woken by it
    /// reads every entry it has not handed out).
    /// The tenants must be live tenants of the transaction's MSP, none selected. Call this last in a transaction.
    ///
    /// - Returns: The last sequence number appended, or `nil` when `entries` is empty.
    @discardableResult
    package func append(
        _ entries: [(tenant: TenantID, devices: [DeviceID]?)], event: ChangeFeedEntry.Event, data: String
    ) async throws -> Int64? {
        guard !entries.isEmpty else { return nil }
        var seen: Set<TenantID> = []
        let tenants = entries.map(\.tenant).filter { seen.insert($0).inserted }
        let rows = JSONValue.array(
            entries.map { tenant, devices in
                .object([
                    "tenant_id": .string(tenant.description), "event": .string(event.rawValue), "data": .string(data),
                    "device_ids": devices.map { .array($0.map { .string($0.description) }) } ?? .null,
                ])
            }
        )
        let appended = try await tx.query(
            """
            SELECT charter_private.batch_append_change_feed(\(tenants.map(\.rawValue))::uuid[],
                \(String(decoding: rows.canonicalData, as: UTF8.self))::jsonb)
            """
        )
        var last: Int64?
        for try await seq in appended.decode(Int64?.self) { last = seq }
        if last != nil { try await notify(ChangeFeedNotification.batch) }
        return last
    }

    /// Notifies the replicas when the transaction commits.
    private func notify(_ payload: String) async throws {
        try await tx.query("SELECT pg_notify(\(Self.channel), \(payload))")
    }

    /// Appends a command for the connectors named (docs/connector-protocol.md, "Commands"): the server-sent event
    /// `name` with the JSON object `data`.
    package func append(
        _ tenant: TenantID, connectorEvent name: String, data: String = "{}", to connectors: [ConnectorID]
    ) async throws {
        guard !connectors.isEmpty else { return }
        try await append(
            tenant, event: .connector, devices: connectors.map { DeviceID($0.rawValue) },
            data: #"{"event":"\#(name)","data":\#(data)}"#
        )
    }

    /// Closes the streams of the connectors named on every replica (revocation, re-enrollment).
    package func disconnect(_ tenant: TenantID, connectors: [ConnectorID]) async throws {
        try await append(tenant, event: .disconnect, devices: connectors.map { DeviceID($0.rawValue) }, data: "{}")
    }

    /// Entries of every tenant that `cursor` has not shown, oldest first, and the cursor after them.
    ///
    /// One statement, so one snapshot: the entries after `cursor.head` and those of `cursor.pending` that have
    /// committed since, and the newest sequence number and running transactions of the same snapshot.
    package func entries(after cursor: ChangeFeedCursor) async throws -> (entries: [ChangeFeedEntry], next: ChangeFeedCursor) {
        let pending = "{" + cursor.pending.map(String.init).joined(separator: ",") + "}"
        let rows = try await tx.query(
            """
            SELECT seq, tenant_id, event, device_ids, data
            FROM charter_private.change_feed_since(\(cursor.head)::bigint, \(pending)::xid8[])
            """
        )
        var entries: [ChangeFeedEntry] = []
        var next: ChangeFeedCursor?
        for try await (seq, tenant, event, devices, data) in rows.decode((Int64, UUID?, String?, [UUID]?, String).self) {
            guard let tenant else {
                next = ChangeFeedCursor(head: seq, pending: data.split(separator: ",").compactMap { UInt64($0) })
                continue
            }
            guard let event = event.flatMap(ChangeFeedEntry.Event.init(rawValue:)) else { continue }
            entries.append(
                ChangeFeedEntry(
                    sequence: seq, tenant: TenantID(tenant), event: event, devices: devices?.map(DeviceID.init),
                    data: data
                )
            )
        }
        guard let next else { throw StoreError.unexpected(sqlState: "XX000") }
        return (entries, next)
    }

    /// Removes the entries of every tenant older than `seconds`, always keeping the newest one.
    ///
    /// - Returns: How many entries were removed.
    package func prune(olderThanSeconds seconds: Int) async throws -> Int64 {
        let rows = try await tx.query("SELECT charter_private.change_feed_prune(\(Int32(clamping: seconds))::integer)")
        for try await removed in rows.decode(Int64.self) { return removed }
        return 0
    }

    /// The last sequence number pruned from the tenant's entries (0 when none was): a device that last saw
    /// an earlier one may have missed entries.
    package func prunedThrough(of tenant: TenantID) async throws -> Int64 {
        let rows = try await tx.query(
            "SELECT coalesce(max(pruned_through), 0) FROM change_feed_horizon WHERE tenant_id = \(tenant.rawValue)"
        )
        for try await sequence in rows.decode(Int64.self) { return sequence }
        return 0
    }

    /// The newest sequence number of the tenant (0 before its first entry), read whatever tenant the
    /// transaction has selected.
    package func head(of tenant: TenantID) async throws -> Int64 {
        let rows = try await tx.query("SELECT charter_private.change_feed_tenant_head(\(tenant.rawValue))")
        for try await head in rows.decode(Int64.self) { return head }
        return 0
    }

    /// The newest `bundle` entry of the tenant (0 before the first): bundles worked out at this position
    /// are current.
    package func bundlePosition(of tenant: TenantID) async throws -> Int64 {
        let rows = try await tx.query(
            """
            SELECT coalesce(max(seq), 0) FROM change_feed WHERE tenant_id = \(tenant.rawValue) AND event = 'bundle'
            """
        )
        for try await position in rows.decode(Int64.self) { return position }
        return 0
    }

    /// The tenant's entries after `sequence` that concern `device`, oldest first, at most `limit`.
    package func entries(
        of tenant: TenantID, for device: DeviceID, after sequence: Int64, through last: Int64, limit: Int = 1000
    ) async throws -> [ChangeFeedEntry] {
        let rows = try await tx.query(
            """
            SELECT seq, event, data FROM change_feed
            WHERE tenant_id = \(tenant.rawValue) AND seq > \(sequence) AND seq <= \(last)
              AND event IN ('bundle', 'decision')
              AND (device_ids IS NULL OR \(device.rawValue) = ANY(device_ids))
            ORDER BY seq LIMIT \(limit)
            """
        )
        var entries: [ChangeFeedEntry] = []
        for try await (seq, event, data) in rows.decode((Int64, String, String).self) {
            guard let event = ChangeFeedEntry.Event(rawValue: event) else { continue }
            entries.append(ChangeFeedEntry(sequence: seq, tenant: tenant, event: event, devices: [device], data: data))
        }
        return entries
    }
}

extension Transaction {
    package var enrollmentTokens: EnrollmentTokenRepository { EnrollmentTokenRepository(tx: self) }
    package var devices: DeviceRepository { DeviceRepository(tx: self) }
    package var signingKeys: SigningKeyRepository { SigningKeyRepository(tx: self) }
    package var deviceBundles: DeviceBundleRepository { DeviceBundleRepository(tx: self) }
    package var changeFeed: ChangeFeedRepository { ChangeFeedRepository(tx: self) }
}
