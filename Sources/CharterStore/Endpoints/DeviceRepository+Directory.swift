package import CharterCore
import Foundation
import PostgresNIO

extension DeviceRepository {
    /// The tenant's directory computer for a device: by objectGUID, else SID, else host name (the `cn`, the
    /// `sAMAccountName` without its `$`, or the first label of `dNSHostName`, case-insensitively). A host name
    /// that matches several computers links none.
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
                   OR lower(name) = lower(\(hostname)) OR lower(sam_account_name) = lower(\(hostname)) || '$'
                   OR lower(split_part(dns_host_name, '.', 1)) = lower(split_part(\(hostname), '.', 1)))
            ORDER BY rank LIMIT 3
            """
        )
        var matches: [(ObjectGUID, Int32)] = []
        for try await (guid, rank) in rows.decode((UUID, Int32).self) { matches.append((ObjectGUID(guid), rank)) }
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
