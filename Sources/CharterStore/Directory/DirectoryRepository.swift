package import CharterCore
import Foundation
import PostgresNIO

/// The read side of one tenant's synced directory.
package struct DirectoryRepository: Sendable {
    let tx: Transaction
    let tenantID: TenantID

    private typealias Row = (
        UUID, String, String, UUID?, String, String?, String?, String?, String?, String?, Bool, Int64?, Int32?, Int64
    )

    private static let columns = """
        guid, kind, dn, parent_guid, name, sam_account_name, user_principal_name, dns_host_name, display_name, sid,
        disabled, primary_group_id, group_type, usn_changed
        """

    /// ``columns`` of the table aliased `o`.
    private static let qualifiedColumns = columns.split(separator: ",")
        .map { "o." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .joined(separator: ", ")

    private static func entry(_ row: Row) -> DirectoryEntry {
        DirectoryEntry(
            guid: ObjectGUID(row.0), kind: DirectoryObjectKind(rawValue: row.1) ?? .user, dn: row.2,
            parentGUID: row.3.map(ObjectGUID.init), name: row.4, samAccountName: row.5, userPrincipalName: row.6,
            dnsHostName: row.7, displayName: row.8, sid: row.9, isDisabled: row.10, primaryGroupID: row.11,
            groupType: row.12.map(Int64.init), usnChanged: row.13
        )
    }

    /// The watermark stored with the connection's data; `nil` before its first sync.
    package func watermark(_ connection: DirectoryConnectionID) async throws -> StoredWatermark? {
        let rows = try await tx.query(
            """
            SELECT dc_service_name, invocation_id, usn, domain_sid, last_full_sync_at, synced_at
            FROM directory_watermarks WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue)
            """
        )
        for try await row in rows.decode((String, UUID, Int64, String?, Date, Date).self) {
            return StoredWatermark(
                serviceName: row.0, invocationID: row.1, usn: row.2, domainSID: row.3, lastFullSyncAt: row.4,
                syncedAt: row.5
            )
        }
        return nil
    }

    /// Makes the connection's next sync read everything, keeping the rest of its watermark (the domain SID): an
    /// incremental upload that did not continue the watermark cannot be trusted to continue it next time either.
    package func requireFullSync(_ connection: DirectoryConnectionID) async throws {
        try await tx.query(
            """
            UPDATE directory_watermarks SET last_full_sync_at = \(Date(timeIntervalSince1970: 0))
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue)
            """
        )
    }

    /// A page of objects of some kinds ordered by GUID, after `cursor`, whose name, sAMAccountName, UPN or DN
    /// contains `query` (case-insensitive) when one is given.
    package func search(
        kinds: [DirectoryObjectKind], matching query: String?, connection: DirectoryConnectionID? = nil,
        after cursor: ObjectGUID?, limit: Int
    ) async throws -> [DirectoryEntry] {
        let pattern = query.map(LikePattern.containing)
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_objects
            WHERE tenant_id = \(tenantID.rawValue) AND kind = ANY(\(kinds.map(\.rawValue))::text[])
              AND (\(connection?.rawValue)::uuid IS NULL OR connection_id = \(connection?.rawValue))
              AND (\(cursor?.rawValue)::uuid IS NULL OR guid > \(cursor?.rawValue))
              AND (\(pattern)::text IS NULL OR name ILIKE \(pattern) OR sam_account_name ILIKE \(pattern)
                   OR user_principal_name ILIKE \(pattern) OR dns_host_name ILIKE \(pattern) OR dn ILIKE \(pattern))
            ORDER BY guid LIMIT \(limit)
            """
        )
        var entries: [DirectoryEntry] = []
        for try await row in rows.decode(Row.self) { entries.append(Self.entry(row)) }
        return entries
    }

    /// One object by GUID, of one of `kinds`.
    package func get(_ guid: ObjectGUID, kinds: [DirectoryObjectKind]) async throws -> DirectoryEntry {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_objects
            WHERE tenant_id = \(tenantID.rawValue) AND guid = \(guid.rawValue)
              AND kind = ANY(\(kinds.map(\.rawValue))::text[])
            LIMIT 1
            """
        )
        for try await row in rows.decode(Row.self) { return Self.entry(row) }
        throw StoreError.notFound
    }

    /// Every object of one connection, ordered by GUID.
    package func entries(of connection: DirectoryConnectionID) async throws -> [DirectoryEntry] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM directory_objects
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue) ORDER BY guid
            """
        )
        var entries: [DirectoryEntry] = []
        for try await row in rows.decode(Row.self) { entries.append(Self.entry(row)) }
        return entries
    }

    /// Every stored direct member edge of one connection: (group, member reference, member GUID).
    package func memberEdges(of connection: DirectoryConnectionID) async throws -> Set<DirectoryEdge> {
        let rows = try await tx.query(
            """
            SELECT group_guid, member_ref, member_guid, member_dn, member_sid FROM directory_members
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue)
            """
        )
        var edges: Set<DirectoryEdge> = []
        for try await row in rows.decode((UUID, String, UUID?, String, String?).self) {
            edges.insert(
                DirectoryEdge(
                    group: ObjectGUID(row.0),
                    member: DirectoryMember(guid: row.2.map(ObjectGUID.init), dn: row.3, sid: row.4)
                )
            )
        }
        return edges
    }

    /// Every stored closure row of one connection.
    package func closureRows(of connection: DirectoryConnectionID) async throws -> Set<MembershipClosure.Row> {
        let rows = try await tx.query(
            """
            SELECT member_guid, group_guid, depth, chain FROM directory_memberships
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue)
            """
        )
        var result: Set<MembershipClosure.Row> = []
        for try await row in rows.decode((UUID, UUID, Int32, [UUID]).self) {
            result.insert(
                MembershipClosure.Row(
                    member: ObjectGUID(row.0), group: ObjectGUID(row.1), depth: Int(row.2),
                    chain: row.3.map(ObjectGUID.init)
                )
            )
        }
        return result
    }

    /// The direct groups of an object (from `member` edges and its primary group) and its transitive ones,
    /// each with its chain, nearest first.
    package func groups(of guid: ObjectGUID) async throws -> [DirectoryGroupMembership] {
        let rows = try await tx.query(
            """
            SELECT m.group_guid, m.depth, m.chain, g.name, g.dn
            FROM directory_memberships m
            JOIN directory_objects g ON g.tenant_id = m.tenant_id AND g.connection_id = m.connection_id
                AND g.guid = m.group_guid
            WHERE m.tenant_id = \(tenantID.rawValue) AND m.member_guid = \(guid.rawValue)
            ORDER BY m.depth, g.name, m.group_guid
            """
        )
        var memberships: [DirectoryGroupMembership] = []
        for try await row in rows.decode((UUID, Int32, [UUID], String, String).self) {
            memberships.append(
                DirectoryGroupMembership(
                    group: ObjectGUID(row.0), name: row.3, dn: row.4, depth: Int(row.1),
                    chain: row.2.map(ObjectGUID.init)
                )
            )
        }
        return memberships
    }

    /// The containers an object lies under that are synced (OUs and the domain root), nearest first.
    package func ouPath(of guid: ObjectGUID) async throws -> [DirectoryEntry] {
        let rows = try await tx.query(
            """
            WITH RECURSIVE path (guid, parent_guid, connection_id, hops) AS (
                SELECT guid, parent_guid, connection_id, 0 FROM directory_objects
                WHERE tenant_id = \(tenantID.rawValue) AND guid = \(guid.rawValue)
                UNION ALL
                SELECT o.guid, o.parent_guid, o.connection_id, p.hops + 1 FROM path p
                JOIN directory_objects o ON o.tenant_id = \(tenantID.rawValue) AND o.connection_id = p.connection_id
                    AND o.guid = p.parent_guid
                WHERE p.hops < 100
            )
            SELECT \(unescaped: Self.qualifiedColumns) FROM directory_objects o
            JOIN path p ON p.guid = o.guid AND p.connection_id = o.connection_id
            WHERE o.tenant_id = \(tenantID.rawValue) AND p.hops > 0
            ORDER BY p.hops
            """
        )
        var entries: [DirectoryEntry] = []
        for try await row in rows.decode(Row.self) { entries.append(Self.entry(row)) }
        return entries
    }
}

/// One direct `member` edge as stored.
package struct DirectoryEdge: Sendable, Hashable {
    package var group: ObjectGUID
    package var member: DirectoryMember

    package init(group: ObjectGUID, member: DirectoryMember) {
        self.group = group
        self.member = member
    }
}

/// One group an object is in, directly (depth 1) or transitively, with the chain of groups that makes it so.
package struct DirectoryGroupMembership: Sendable, Hashable {
    package var group: ObjectGUID
    package var name: String
    package var dn: String
    package var depth: Int
    package var chain: [ObjectGUID]
}
