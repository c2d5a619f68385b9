package import CharterCore
package import Foundation
import PostgresNIO

/// What a device listing is narrowed to; `nil` members do not filter (docs/api.md, "Devices").
package struct DeviceFilter: Hashable, Sendable {
    /// How ``hostname`` matches.
    package enum HostnameMatch: String, Hashable, Sendable {
        case contains, prefix
    }

    /// A device's state as the admin API names it.
    package enum Status: String, Hashable, Sendable {
        case active
        case pendingApproval = "pending_approval"
        case revoked
    }

    /// Text the host name contains (or starts with), case-insensitively; `%` and `_` match only themselves.
    package var hostname: String?
    package var hostnameMatch: HostnameMatch
    /// Text the reported operating system contains, case-insensitively.
    package var os: String?
    /// Last seen at or after.
    package var lastSeenAfter: Date?
    /// Last seen before (a device never seen matches neither time filter).
    package var lastSeenBefore: Date?
    /// Only devices that are (`true`) or are not (`false`) behind: see ``DeviceRepository/behindCondition``.
    package var isBehind: Bool?
    package var status: Status?

    package init(
        hostname: String? = nil, hostnameMatch: HostnameMatch = .contains, os: String? = nil, lastSeenAfter: Date? = nil,
        lastSeenBefore: Date? = nil, isBehind: Bool? = nil, status: Status? = nil
    ) {
        self.hostname = hostname
        self.hostnameMatch = hostnameMatch
        self.os = os
        self.lastSeenAfter = lastSeenAfter
        self.lastSeenBefore = lastSeenBefore
        self.isBehind = isBehind
        self.status = status
    }
}

/// A user the device's check-ins reported, with the directory user it matches when the tenant's directory holds one.
package struct KnownUser: Hashable, Sendable {
    /// The synced directory user a reported user matched (by objectGUID, else SID, else UPN).
    package struct DirectoryIdentity: Hashable, Sendable {
        package var guid: ObjectGUID
        package var samAccountName: String?
        package var userPrincipalName: String?
        package var displayName: String?

        package init(guid: ObjectGUID, samAccountName: String?, userPrincipalName: String?, displayName: String?) {
            self.guid = guid
            self.samAccountName = samAccountName
            self.userPrincipalName = userPrincipalName
            self.displayName = displayName
        }
    }

    /// As the agent reported it.
    package var reported: DeviceUser
    package var firstSeenAt: Date
    package var lastSeenAt: Date
    package var directory: DirectoryIdentity?

    package init(reported: DeviceUser, firstSeenAt: Date, lastSeenAt: Date, directory: DirectoryIdentity?) {
        self.reported = reported
        self.firstSeenAt = firstSeenAt
        self.lastSeenAt = lastSeenAt
        self.directory = directory
    }
}

/// A device as the inventory shows it: whether it is behind, and the users seen on it.
package struct InventoryDevice: Hashable, Sendable {
    package var device: Device
    /// Whether the agent has not acknowledged holding the bundle the tenant's policy makes for it now.
    package var isBehind: Bool
    /// The most recently seen users first, at most as many as were asked for.
    package var knownUsers: [KnownUser]
    /// How many users the device's check-ins reported in all.
    package var knownUserCount: Int

    package init(device: Device, isBehind: Bool, knownUsers: [KnownUser] = [], knownUserCount: Int = 0) {
        self.device = device
        self.isBehind = isBehind
        self.knownUsers = knownUsers
        self.knownUserCount = knownUserCount
    }
}

extension DeviceRepository {
    /// Whether a device (`d`, its bundle `b`) is behind: not revoked, and it holds no acknowledged copy of the
    /// bundle its tenant's policy makes for it now. That is: no bundle was made for it yet; or its last check-in
    /// reported no version or one older than its current bundle's; or a `bundle` entry of the change feed that
    /// concerns it came after the position its bundle was worked out at (it was hinted and has not fetched); or
    /// its bundle predates entries the feed has since pruned.
    static let behindCondition = """
        (d.revoked_at IS NULL AND (
            b.version IS NULL OR d.held_version IS NULL OR d.held_version < b.version
            OR b.feed_seq < coalesce((SELECT h.pruned_through FROM change_feed_horizon h WHERE h.tenant_id = d.tenant_id), 0)
            OR EXISTS (SELECT 1 FROM change_feed c
                       WHERE c.tenant_id = d.tenant_id AND c.event = 'bundle' AND c.seq > b.feed_seq
                         AND (c.device_ids IS NULL OR d.id = ANY(c.device_ids)))))
        """

    /// ``columns`` and whether the device is behind.
    private static let inventoryColumns = """
        SELECT d.id, d.hostname, d.os, d.agent_version, d.reported_sid, d.reported_guid, d.computer_guid,
               d.encryption_key, d.signing_key, d.pin_secret_sealed, d.enrolled_at, d.reenrolled_at, d.last_seen_at,
               d.held_version, d.revoked_at, b.version, d.pending_approval, d.token_expires_at,
               \(behindCondition)
        FROM devices d
        LEFT JOIN device_bundles b ON b.tenant_id = d.tenant_id AND b.device_id = d.id
        """

    private typealias InventoryRow = (
        UUID, String, String?, String, String?, UUID?, UUID?, Data, Data, String, Date, Date?, Date?, Int64?, Date?,
        Int64?, Bool, Date, Bool
    )

    private static func inventoryEntry(_ row: InventoryRow) -> InventoryDevice {
        let device = Self.device(
            (
                row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11, row.12, row.13,
                row.14, row.15, row.16, row.17
            )
        )
        return InventoryDevice(device: device, isBehind: row.18)
    }

    /// A page of the tenant's devices matching `filter`, in id order after `cursor`.
    package func list(
        _ tenant: TenantID, matching filter: DeviceFilter, after cursor: DeviceID?, limit: Int
    ) async throws -> [InventoryDevice] {
        let hostname = filter.hostname.map {
            filter.hostnameMatch == .prefix ? LikePattern.prefix($0) : LikePattern.containing($0)
        }
        let os = filter.os.map(LikePattern.containing)
        let rows = try await tx.query(
            """
            \(unescaped: Self.inventoryColumns)
            WHERE d.tenant_id = \(tenant.rawValue) AND (\(cursor?.rawValue)::uuid IS NULL OR d.id > \(cursor?.rawValue))
              AND (\(hostname)::text IS NULL OR lower(d.hostname) LIKE lower(\(hostname)) ESCAPE '\\')
              AND (\(os)::text IS NULL OR lower(d.os) LIKE lower(\(os)) ESCAPE '\\')
              AND (\(filter.lastSeenAfter)::timestamptz IS NULL OR d.last_seen_at >= \(filter.lastSeenAfter))
              AND (\(filter.lastSeenBefore)::timestamptz IS NULL OR d.last_seen_at < \(filter.lastSeenBefore))
              AND (CASE \(filter.status?.rawValue)::text
                     WHEN 'revoked' THEN d.revoked_at IS NOT NULL
                     WHEN 'pending_approval' THEN d.revoked_at IS NULL AND d.pending_approval
                     WHEN 'active' THEN d.revoked_at IS NULL AND NOT d.pending_approval
                     ELSE true END)
              AND (\(filter.isBehind)::boolean IS NULL OR \(unescaped: Self.behindCondition) = \(filter.isBehind))
            ORDER BY d.id LIMIT \(limit)
            """
        )
        var devices: [InventoryDevice] = []
        for try await row in rows.decode(InventoryRow.self) { devices.append(Self.inventoryEntry(row)) }
        return devices
    }

    /// One device of the tenant as the inventory shows it (without its users).
    package func inventoryDevice(_ tenant: TenantID, id: DeviceID) async throws -> InventoryDevice {
        let rows = try await tx.query(
            """
            \(unescaped: Self.inventoryColumns)
            WHERE d.tenant_id = \(tenant.rawValue) AND d.id = \(id.rawValue)
            """
        )
        for try await row in rows.decode(InventoryRow.self) { return Self.inventoryEntry(row) }
        throw StoreError.notFound
    }

    /// The users seen on each of `devices`, most recently seen first, at most `perDevice` of each, with the
    /// directory user each matches (by objectGUID, else SID, else UPN, as bundles match them); and how many
    /// users each device has in all.
    package func knownUsers(
        _ tenant: TenantID, of devices: [DeviceID], perDevice: Int
    ) async throws -> [DeviceID: (users: [KnownUser], count: Int)] {
        guard !devices.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            WITH u AS (
                SELECT * FROM (
                    SELECT *, row_number() OVER w AS rank, count(*) OVER (PARTITION BY device_id) AS total
                    FROM device_users
                    WHERE tenant_id = \(tenant.rawValue) AND device_id = ANY(\(devices.map(\.rawValue))::uuid[])
                    WINDOW w AS (PARTITION BY device_id ORDER BY last_seen_at DESC, identity)) ranked
                WHERE rank <= \(perDevice)),
            -- The directory users any of them may match, in one pass over the tenant's users (as a bundle reads
            -- them); each user then picks its match from these few rows, not from the whole directory.
            candidates AS MATERIALIZED (
                SELECT guid, sid, sam_account_name, user_principal_name, display_name FROM directory_objects
                WHERE tenant_id = \(tenant.rawValue) AND kind = 'user'
                  AND (guid IN (SELECT guid FROM u) OR upper(sid) IN (SELECT upper(sid) FROM u)
                       OR lower(user_principal_name) IN (SELECT lower(upn) FROM u)))
            SELECT u.device_id, u.sid, u.guid, u.upn, u.first_seen_at, u.last_seen_at, u.total,
                   o.guid, o.sam_account_name, o.user_principal_name, o.display_name
            FROM u
            LEFT JOIN LATERAL (
                SELECT guid, sam_account_name, user_principal_name, display_name FROM candidates
                WHERE guid = u.guid OR upper(sid) = upper(u.sid) OR lower(user_principal_name) = lower(u.upn)
                ORDER BY CASE WHEN guid = u.guid THEN 0 WHEN upper(sid) = upper(u.sid) THEN 1 ELSE 2 END, guid
                LIMIT 1) o ON true
            ORDER BY u.device_id, u.rank
            """
        )
        var users: [DeviceID: (users: [KnownUser], count: Int)] = [:]
        for try await (device, sid, guid, upn, first, last, total, directoryGUID, sam, principalName, display) in rows.decode(
            (UUID, String?, UUID?, String?, Date, Date, Int64, UUID?, String?, String?, String?).self
        ) {
            let user = KnownUser(
                reported: DeviceUser(sid: sid, guid: guid.map(ObjectGUID.init), upn: upn), firstSeenAt: first,
                lastSeenAt: last,
                directory: directoryGUID.map {
                    KnownUser.DirectoryIdentity(
                        guid: ObjectGUID($0), samAccountName: sam, userPrincipalName: principalName, displayName: display
                    )
                }
            )
            users[DeviceID(device), default: ([], Int(total))].users.append(user)
        }
        return users
    }
}
