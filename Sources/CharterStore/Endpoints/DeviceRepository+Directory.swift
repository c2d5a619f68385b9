package import CharterCore
package import Foundation
import PostgresNIO

extension DeviceRepository {
    /// The tenant's directory computer for a device: by objectGUID, else SID, else host name (its first label
    /// against the `cn`, the `sAMAccountName` without its `$`, or the first label of `dNSHostName`,
    /// case-insensitively). A host name that matches several computers links none.
    package func findComputer(
        _ tenant: TenantID, guid: ObjectGUID?, sid: String?, hostname: String
    ) async throws -> ObjectGUID? {
        let rows = try await tx.query(
            """
            SELECT guid, CASE
                     WHEN guid = \(guid?.rawValue)::uuid THEN 0
                     WHEN upper(sid) = upper(\(sid)::text) THEN 1
                     ELSE 2 END AS rank
            FROM directory_objects
            WHERE tenant_id = \(tenant.rawValue) AND kind = 'computer'
              AND (guid = \(guid?.rawValue)::uuid OR upper(sid) = upper(\(sid)::text)
                   OR lower(name) = lower(split_part(\(hostname), '.', 1))
                   OR lower(sam_account_name) = lower(split_part(\(hostname), '.', 1)) || '$'
                   OR lower(split_part(dns_host_name, '.', 1)) = lower(split_part(\(hostname), '.', 1)))
            ORDER BY rank LIMIT 3
            """
        )
        var matches: [(ObjectGUID, Int32)] = []
        for try await (guid, rank) in rows.decode((UUID, Int32).self) { matches.append((ObjectGUID(guid), rank)) }
        return Self.computer(among: matches)
    }

    /// The directory computer of each of `devices`, found as ``findComputer(_:guid:sid:hostname:)`` finds one, in
    /// one statement; devices without one are left out.
    package func findComputers(_ tenant: TenantID, for devices: [Device]) async throws -> [DeviceID: ObjectGUID] {
        guard !devices.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            WITH d AS (
                SELECT id, NULLIF(guid, '')::uuid AS guid, NULLIF(sid, '') AS sid, hostname
                FROM unnest(\(devices.map(\.id.rawValue))::uuid[], \(devices.map { $0.reportedGUID?.description ?? "" })::text[],
                            \(devices.map { $0.reportedSID ?? "" })::text[], \(devices.map(\.hostname))::text[])
                     AS given(id, guid, sid, hostname)
            )
            SELECT d.id, m.guid, m.rank
            FROM d CROSS JOIN LATERAL (
                SELECT o.guid, CASE
                         WHEN o.guid = d.guid THEN 0
                         WHEN upper(o.sid) = upper(d.sid) THEN 1
                         ELSE 2 END AS rank
                FROM directory_objects o
                WHERE o.tenant_id = \(tenant.rawValue) AND o.kind = 'computer'
                  AND (o.guid = d.guid OR upper(o.sid) = upper(d.sid)
                       OR lower(o.name) = lower(split_part(d.hostname, '.', 1))
                       OR lower(o.sam_account_name) = lower(split_part(d.hostname, '.', 1)) || '$'
                       OR lower(split_part(o.dns_host_name, '.', 1)) = lower(split_part(d.hostname, '.', 1)))
                ORDER BY rank LIMIT 3
            ) m
            ORDER BY d.id, m.rank
            """
        )
        var matches: [DeviceID: [(ObjectGUID, Int32)]] = [:]
        for try await (device, guid, rank) in rows.decode((UUID, UUID, Int32).self) {
            matches[DeviceID(device), default: []].append((ObjectGUID(guid), rank))
        }
        return matches.compactMapValues(Self.computer(among:))
    }

    /// The computer a device's matches (best first) name: a GUID or SID match, else the only host-name match.
    private static func computer(among matches: [(ObjectGUID, Int32)]) -> ObjectGUID? {
        guard let first = matches.first else { return nil }
        if first.1 < 2 { return first.0 }
        return matches.count == 1 ? first.0 : nil
    }

    /// The directory users among `users`, matched by objectGUID, SID or UPN; unmatched users are left out.
    package func directoryUsers(
        _ tenant: TenantID, matching users: [DeviceUser]
    ) async throws -> [(user: DeviceUser, guid: ObjectGUID)] {
        guard !users.isEmpty else { return [] }
        let rows = try await tx.query(
            """
            SELECT guid, sid, user_principal_name FROM directory_objects
            WHERE tenant_id = \(tenant.rawValue) AND kind = 'user'
              AND (guid = ANY(\(users.compactMap { $0.guid?.rawValue })::uuid[])
                   OR upper(sid) = ANY(\(users.compactMap { $0.sid?.uppercased() })::text[])
                   OR lower(user_principal_name) = ANY(\(users.compactMap { $0.upn?.lowercased() })::text[]))
            """
        )
        var byGUID: [ObjectGUID: ObjectGUID] = [:]
        var bySID: [String: ObjectGUID] = [:]
        var byUPN: [String: ObjectGUID] = [:]
        for try await (guid, sid, upn) in rows.decode((UUID, String?, String?).self) {
            let object = ObjectGUID(guid)
            byGUID[object] = object
            if let sid { bySID[sid.uppercased()] = object }
            if let upn { byUPN[upn.lowercased()] = object }
        }
        return users.compactMap { user in
            let match =
                user.guid.flatMap { byGUID[$0] } ?? user.sid.flatMap { bySID[$0.uppercased()] }
                ?? user.upn.flatMap { byUPN[$0.lowercased()] }
            return match.map { (user, $0) }
        }
    }
}

extension DeviceRepository {
    /// How many devices ``managed(_:userRetention:)`` would return: those not revoked.
    package func managedCount(_ tenant: TenantID) async throws -> Int {
        let rows = try await tx.query(
            "SELECT count(*) FROM devices WHERE tenant_id = \(tenant.rawValue) AND revoked_at IS NULL"
        )
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    /// The devices that are not revoked as policy sees them: the linked computer and the directory users seen
    /// on each (matched by objectGUID, SID or UPN) within `userRetention`.
    package func managed(_ tenant: TenantID, userRetention: TimeInterval = 90 * 86_400) async throws
        -> [ManagedDevice<DeviceID>]
    {
        let rows = try await tx.query(
            """
            SELECT d.id, d.computer_guid,
                   coalesce(array_agg(DISTINCT o.guid) FILTER (WHERE o.guid IS NOT NULL), '{}')
            FROM devices d
            LEFT JOIN device_users u
                   ON u.tenant_id = d.tenant_id AND u.device_id = d.id
                  AND u.last_seen_at >= now() - make_interval(secs => \(userRetention))
            LEFT JOIN directory_objects o
                   ON o.tenant_id = d.tenant_id AND o.kind = 'user'
                  AND (o.guid = u.guid OR upper(o.sid) = upper(u.sid)
                       OR lower(o.user_principal_name) = lower(u.upn))
            WHERE d.tenant_id = \(tenant.rawValue) AND d.revoked_at IS NULL
            GROUP BY d.id, d.computer_guid
            """
        )
        var devices: [ManagedDevice<DeviceID>] = []
        for try await (id, computer, users) in rows.decode((UUID, UUID?, [UUID]).self) {
            devices.append(
                ManagedDevice(id: DeviceID(id), computer: computer.map(ObjectGUID.init), users: users.map(ObjectGUID.init).sorted())
            )
        }
        return devices
    }
}
