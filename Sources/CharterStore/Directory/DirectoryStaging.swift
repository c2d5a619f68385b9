package import CharterCore
package import Foundation
import PostgresNIO

/// The write side of one directory sync, inside one tenant transaction: staged pages, then one set-based merge.
///
/// ``prepare()`` creates transaction-local staging tables; ``stage(_:)`` and ``stageDeletions(_:)`` add a
/// page at a time with large array-bound inserts; ``apply(_:connection:threshold:confirmsDeletions:watermark:)``
/// merges them into the stored directory (mark and sweep for a full sync), recomputes and stores the
/// membership closure and stores the watermark. Nothing is visible to others until the transaction commits,
/// and a failure anywhere rolls all of it back.
package struct DirectoryStaging: Sendable {
    let tx: Transaction
    let tenantID: TenantID

    /// Whether the staged pages are the whole directory or the changes since the watermark.
    package enum Mode: Sendable, Hashable {
        /// Every object was staged: stored objects that were not are deleted.
        case full
        /// Changed objects and tombstones were staged: only those are applied.
        case incremental
    }

    /// Thrown by ``DirectoryStaging/apply(_:connection:threshold:confirmsDeletions:watermark:)`` when the run
    /// would delete more than the threshold allows; the caller rolls the transaction back.
    package struct DeletionGuardTripped: Error, Hashable, Sendable {
        package var pendingDeletions: Int
        package var allowedDeletions: Int
        package var counts: SyncCounts
    }

    /// Creates the staging tables (dropped at commit).
    package func prepare() async throws {
        try await tx.query(
            """
            CREATE TEMP TABLE staged_directory_objects (
                guid uuid PRIMARY KEY, kind text NOT NULL, dn text NOT NULL, parent_guid uuid, name text NOT NULL,
                sam_account_name text, user_principal_name text, dns_host_name text, display_name text, sid text,
                disabled boolean NOT NULL, primary_group_id bigint, group_type bigint, usn_changed bigint NOT NULL
            ) ON COMMIT DROP
            """
        )
        try await tx.query(
            """
            CREATE TEMP TABLE staged_directory_members (
                group_guid uuid NOT NULL, member_ref text NOT NULL, member_guid uuid, member_dn text NOT NULL,
                member_sid text, PRIMARY KEY (group_guid, member_ref)
            ) ON COMMIT DROP
            """
        )
        try await tx.query("CREATE TEMP TABLE staged_directory_deletions (guid uuid PRIMARY KEY) ON COMMIT DROP")
        try await tx.query(
            "CREATE TEMP TABLE doomed_directory_objects (guid uuid PRIMARY KEY, kind text NOT NULL) ON COMMIT DROP"
        )
    }

    /// Stages one page of objects (and the members of its groups).
    package func stage(_ entries: [DirectoryEntry]) async throws {
        guard !entries.isEmpty else { return }
        // Arrays cannot carry NULL elements through the binds used here, so absent values travel as '' (text)
        // or a sentinel (numbers) and become NULL in SQL.
        let absent = Int64.min
        try await tx.query(
            """
            INSERT INTO staged_directory_objects (guid, kind, dn, parent_guid, name, sam_account_name,
                user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id, group_type,
                usn_changed)
            SELECT guid, kind, dn, NULLIF(parent, '')::uuid, name, NULLIF(sam, ''), NULLIF(upn, ''),
                NULLIF(host, ''), NULLIF(display, ''), NULLIF(sid, ''), disabled, NULLIF(pgid, \(absent)),
                NULLIF(gtype, \(absent)), usn
            FROM unnest(\(entries.map(\.guid.rawValue))::uuid[], \(entries.map(\.kind.rawValue))::text[],
                \(entries.map(\.dn))::text[], \(entries.map { $0.parentGUID?.description ?? "" })::text[],
                \(entries.map(\.name))::text[], \(entries.map { $0.samAccountName ?? "" })::text[],
                \(entries.map { $0.userPrincipalName ?? "" })::text[], \(entries.map { $0.dnsHostName ?? "" })::text[],
                \(entries.map { $0.displayName ?? "" })::text[], \(entries.map { $0.sid ?? "" })::text[],
                \(entries.map(\.isDisabled))::boolean[], \(entries.map { $0.primaryGroupID ?? absent })::bigint[],
                \(entries.map { $0.groupType ?? absent })::bigint[], \(entries.map(\.usnChanged))::bigint[])
                AS s(guid, kind, dn, parent, name, sam, upn, host, display, sid, disabled, pgid, gtype, usn)
            ON CONFLICT (guid) DO NOTHING
            """
        )
        var groups: [UUID] = []
        var references: [String] = []
        var memberGUIDs: [String] = []
        var memberDNs: [String] = []
        var memberSIDs: [String] = []
        for entry in entries {
            for member in entry.members ?? [] {
                groups.append(entry.guid.rawValue)
                references.append(member.reference)
                memberGUIDs.append(member.guid?.description ?? "")
                memberDNs.append(member.dn)
                memberSIDs.append(member.sid ?? "")
            }
        }
        guard !groups.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO staged_directory_members (group_guid, member_ref, member_guid, member_dn, member_sid)
            SELECT g, r, NULLIF(m, '')::uuid, d, NULLIF(s, '')
            FROM unnest(\(groups)::uuid[], \(references)::text[], \(memberGUIDs)::text[], \(memberDNs)::text[],
                \(memberSIDs)::text[]) AS x(g, r, m, d, s)
            ON CONFLICT DO NOTHING
            """
        )
    }

    /// Stages the objectGUIDs of tombstones (incremental syncs).
    package func stageDeletions(_ guids: [UUID]) async throws {
        guard !guids.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO staged_directory_deletions (guid) SELECT unnest(\(guids)::uuid[]) ON CONFLICT DO NOTHING
            """
        )
    }

    /// Merges the staged pages into the connection's stored directory and stores the closure and watermark.
    ///
    /// - Parameters:
    ///   - mode: `.full` deletes every stored object that was not staged; `.incremental` deletes the staged
    ///     tombstones only.
    ///   - threshold: the deletion guard; ignored when `confirmsDeletions`.
    /// - Returns: the counts per kind.
    /// - Throws: ``DeletionGuardTripped`` when the deletions exceed the threshold (nothing is merged).
    package func apply(
        _ mode: Mode, connection: DirectoryConnectionID, threshold: DeletionThreshold, confirmsDeletions: Bool,
        watermark: StoredWatermark
    ) async throws -> SyncCounts {
        let tenant = tenantID.rawValue
        let connectionID = connection.rawValue
        try await tx.query("ANALYZE staged_directory_objects")

        // Mark: which stored objects go.
        switch mode {
        case .full:
            try await tx.query(
                """
                INSERT INTO doomed_directory_objects (guid, kind)
                SELECT o.guid, o.kind FROM directory_objects o
                WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connectionID)
                  AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = o.guid)
                """
            )
        case .incremental:
            try await tx.query(
                """
                INSERT INTO doomed_directory_objects (guid, kind)
                SELECT o.guid, o.kind FROM directory_objects o
                JOIN staged_directory_deletions d ON d.guid = o.guid
                WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connectionID)
                  AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = o.guid)
                """
            )
        }

        var counts = SyncCounts()
        let tallies = try await tx.query(
            """
            SELECT kind, 0::bigint, 0::bigint, 0::bigint, count(*) FROM doomed_directory_objects GROUP BY kind
            UNION ALL
            SELECT s.kind,
                   count(*) FILTER (WHERE o.guid IS NULL),
                   count(*) FILTER (WHERE o.guid IS NOT NULL AND o.parent_guid IS NOT DISTINCT FROM s.parent_guid
                       AND (o.kind, o.dn, o.name, o.sam_account_name, o.user_principal_name, o.dns_host_name,
                            o.display_name, o.sid, o.disabled, o.primary_group_id, o.group_type)
                       IS DISTINCT FROM (s.kind, s.dn, s.name, s.sam_account_name, s.user_principal_name,
                            s.dns_host_name, s.display_name, s.sid, s.disabled, s.primary_group_id,
                            s.group_type::integer)),
                   count(*) FILTER (WHERE o.guid IS NOT NULL AND o.parent_guid IS DISTINCT FROM s.parent_guid),
                   0::bigint
            FROM staged_directory_objects s
            LEFT JOIN directory_objects o
                ON o.tenant_id = \(tenant) AND o.connection_id = \(connectionID) AND o.guid = s.guid
            GROUP BY s.kind
            """
        )
        for try await (kind, added, changed, moved, deleted) in tallies.decode((String, Int64, Int64, Int64, Int64).self) {
            var tally = counts.byKind[kind] ?? SyncCounts.Tally()
            tally.added += Int(added)
            tally.changed += Int(changed)
            tally.moved += Int(moved)
            tally.deleted += Int(deleted)
            counts.byKind[kind] = tally
        }

        // The deletion guard.
        let pending = counts.totalDeleted
        if pending > 0 && !confirmsDeletions {
            var stored = 0
            let rows = try await tx.query(
                """
                SELECT count(*) FROM directory_objects WHERE tenant_id = \(tenant) AND connection_id = \(connectionID)
                """
            )
            for try await count in rows.decode(Int64.self) { stored = Int(count) }
            let allowed = threshold.allowedDeletions(stored: stored)
            if pending > allowed {
                throw DeletionGuardTripped(pendingDeletions: pending, allowedDeletions: allowed, counts: counts)
            }
        }

        // An incremental sync writes only the closure rows that change, so it needs the graph as it was.
        let graphBefore: MembershipGraph? =
            if mode == .incremental { try await graph(connection: connection, domainSID: watermark.domainSID) } else { nil }

        // Sweep.
        try await tx.query(
            """
            DELETE FROM directory_members m USING doomed_directory_objects d
            WHERE m.tenant_id = \(tenant) AND m.connection_id = \(connectionID) AND m.member_guid = d.guid
            """
        )
        try await tx.query(
            """
            DELETE FROM directory_objects o USING doomed_directory_objects d
            WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connectionID) AND o.guid = d.guid
            """
        )

        if mode == .incremental {
            // Renaming or moving a container changes its descendants' DNs without returning them: rewrite the
            // DN suffix of every stored descendant that was not itself staged.
            try await tx.query(
                """
                UPDATE directory_objects d
                SET dn = left(d.dn, length(d.dn) - length(r.old_dn)) || r.new_dn, updated_at = now()
                FROM (SELECT o.dn AS old_dn, s.dn AS new_dn FROM staged_directory_objects s
                      JOIN directory_objects o
                        ON o.tenant_id = \(tenant) AND o.connection_id = \(connectionID) AND o.guid = s.guid
                      WHERE o.dn <> s.dn) r
                WHERE d.tenant_id = \(tenant) AND d.connection_id = \(connectionID)
                  AND lower(right(d.dn, length(r.old_dn) + 1)) = lower(',' || r.old_dn)
                  AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = d.guid)
                """
            )
        }

        try await tx.query(
            """
            INSERT INTO directory_objects (tenant_id, connection_id, guid, kind, dn, parent_guid, name,
                sam_account_name, user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id,
                group_type, usn_changed)
            SELECT \(tenant), \(connectionID), guid, kind, dn, parent_guid, name, sam_account_name,
                user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id, group_type::integer,
                usn_changed
            FROM staged_directory_objects
            ON CONFLICT (tenant_id, connection_id, guid) DO UPDATE SET
                kind = EXCLUDED.kind, dn = EXCLUDED.dn, parent_guid = EXCLUDED.parent_guid, name = EXCLUDED.name,
                sam_account_name = EXCLUDED.sam_account_name, user_principal_name = EXCLUDED.user_principal_name,
                dns_host_name = EXCLUDED.dns_host_name, display_name = EXCLUDED.display_name, sid = EXCLUDED.sid,
                disabled = EXCLUDED.disabled, primary_group_id = EXCLUDED.primary_group_id,
                group_type = EXCLUDED.group_type, usn_changed = EXCLUDED.usn_changed, updated_at = now()
            WHERE (directory_objects.kind, directory_objects.dn, directory_objects.parent_guid, directory_objects.name,
                   directory_objects.sam_account_name, directory_objects.user_principal_name,
                   directory_objects.dns_host_name, directory_objects.display_name, directory_objects.sid,
                   directory_objects.disabled, directory_objects.primary_group_id, directory_objects.group_type,
                   directory_objects.usn_changed)
                IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.dn, EXCLUDED.parent_guid, EXCLUDED.name,
                   EXCLUDED.sam_account_name, EXCLUDED.user_principal_name, EXCLUDED.dns_host_name,
                   EXCLUDED.display_name, EXCLUDED.sid, EXCLUDED.disabled, EXCLUDED.primary_group_id,
                   EXCLUDED.group_type, EXCLUDED.usn_changed)
            """
        )

        // A staged group's member list is complete: replace its edges.
        try await tx.query(
            """
            DELETE FROM directory_members m USING staged_directory_objects s
            WHERE m.tenant_id = \(tenant) AND m.connection_id = \(connectionID) AND m.group_guid = s.guid
              AND s.kind = 'group'
            """
        )
        try await tx.query(
            """
            INSERT INTO directory_members (tenant_id, connection_id, group_guid, member_ref, member_guid, member_dn,
                member_sid)
            SELECT \(tenant), \(connectionID), m.group_guid, m.member_ref, m.member_guid, m.member_dn, m.member_sid
            FROM staged_directory_members m
            JOIN staged_directory_objects s ON s.guid = m.group_guid AND s.kind = 'group'
            """
        )
        if mode == .incremental {
            // Members named by DN follow renames of the objects they name (a full sync read every edge afresh).
            try await tx.query(
                """
                UPDATE directory_members m SET member_dn = o.dn
                FROM directory_objects o
                WHERE m.tenant_id = \(tenant) AND m.connection_id = \(connectionID)
                  AND o.tenant_id = \(tenant) AND o.connection_id = \(connectionID) AND o.guid = m.member_guid
                  AND m.member_dn <> o.dn
                """
            )
        } else {
            // A first sync fills the tables inside this transaction; without statistics the planner would
            // choose nested loops for the closure's queries.
            try await tx.query("ANALYZE directory_objects, directory_members")
        }

        let graphAfter = try await graph(connection: connection, domainSID: watermark.domainSID)
        if let graphBefore {
            if graphBefore != graphAfter {
                try await updateClosure(connection: connection, from: graphBefore.closure(), to: graphAfter.closure())
            }
        } else {
            try await replaceClosure(connection: connection, with: graphAfter.closure())
        }
        try await store(watermark, connection: connection, isFull: mode == .full)
        return counts
    }

    /// The connection's stored membership facts: direct edges between known GUIDs and primary groups.
    private func graph(connection: DirectoryConnectionID, domainSID: String?) async throws -> MembershipGraph {
        let tenant = tenantID.rawValue
        let connectionID = connection.rawValue
        var graph = MembershipGraph()
        let edges = try await tx.query(
            """
            SELECT group_guid, member_guid FROM directory_members
            WHERE tenant_id = \(tenant) AND connection_id = \(connectionID) AND member_guid IS NOT NULL
            """
        )
        for try await (group, member) in edges.decode((UUID, UUID).self) {
            graph.members[ObjectGUID(group), default: []].insert(ObjectGUID(member))
        }
        if let domainSID {
            let primary = try await tx.query(
                """
                SELECT o.guid, g.guid FROM directory_objects o
                JOIN directory_objects g ON g.tenant_id = o.tenant_id AND g.connection_id = o.connection_id
                    AND g.kind = 'group' AND g.sid = \(domainSID) || '-' || o.primary_group_id::text
                WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connectionID) AND o.primary_group_id IS NOT NULL
                """
            )
            for try await (object, group) in primary.decode((UUID, UUID).self) {
                graph.primaryGroups[ObjectGUID(object)] = ObjectGUID(group)
            }
        }
        return graph
    }

    /// Replaces every stored closure row of the connection.
    private func replaceClosure(connection: DirectoryConnectionID, with closure: MembershipClosure) async throws {
        try await tx.query(
            """
            DELETE FROM directory_memberships
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connection.rawValue)
            """
        )
        try await insert(closure.rows, connection: connection)
    }

    /// Writes the difference between two closures: rows that went or changed are deleted, new ones inserted.
    private func updateClosure(
        connection: DirectoryConnectionID, from old: MembershipClosure, to new: MembershipClosure
    ) async throws {
        let oldRows = Set(old.rows)
        let newRows = Set(new.rows)
        let gone = oldRows.subtracting(newRows)
        let added = newRows.subtracting(oldRows)
        if !gone.isEmpty {
            try await tx.query(
                """
                DELETE FROM directory_memberships m
                USING unnest(\(gone.map(\.member.rawValue))::uuid[], \(gone.map(\.group.rawValue))::uuid[]) AS x(mg, gg)
                WHERE m.tenant_id = \(tenantID.rawValue) AND m.connection_id = \(connection.rawValue)
                  AND m.member_guid = x.mg AND m.group_guid = x.gg
                """
            )
        }
        try await insert(Array(added), connection: connection)
    }

    private func insert(_ rows: [MembershipClosure.Row], connection: DirectoryConnectionID) async throws {
        let chunk = 20_000
        var start = 0
        while start < rows.count {
            let slice = rows[start..<min(start + chunk, rows.count)]
            try await tx.query(
                """
                INSERT INTO directory_memberships (tenant_id, connection_id, member_guid, group_guid, depth, chain)
                SELECT \(tenantID.rawValue), \(connection.rawValue), m, g, d, string_to_array(c, ',')::uuid[]
                FROM unnest(\(slice.map(\.member.rawValue))::uuid[], \(slice.map(\.group.rawValue))::uuid[],
                    \(slice.map(\.depth))::integer[],
                    \(slice.map { $0.chain.map(\.description).joined(separator: ",") })::text[]) AS x(m, g, d, c)
                """
            )
            start += chunk
        }
    }

    private func store(_ watermark: StoredWatermark, connection: DirectoryConnectionID, isFull: Bool) async throws {
        try await tx.query(
            """
            INSERT INTO directory_watermarks (tenant_id, connection_id, dc_service_name, invocation_id, usn,
                domain_sid, last_full_sync_at, synced_at)
            VALUES (\(tenantID.rawValue), \(connection.rawValue), \(watermark.serviceName), \(watermark.invocationID),
                \(watermark.usn), \(watermark.domainSID), \(watermark.lastFullSyncAt), \(watermark.syncedAt))
            ON CONFLICT (tenant_id, connection_id) DO UPDATE SET
                dc_service_name = EXCLUDED.dc_service_name, invocation_id = EXCLUDED.invocation_id,
                usn = EXCLUDED.usn, domain_sid = COALESCE(EXCLUDED.domain_sid, directory_watermarks.domain_sid),
                last_full_sync_at = CASE WHEN \(isFull) THEN EXCLUDED.last_full_sync_at
                                         ELSE directory_watermarks.last_full_sync_at END,
                synced_at = EXCLUDED.synced_at
            """
        )
    }
}
