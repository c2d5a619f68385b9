import CharterCore
package import Foundation
import PostgresNIO

/// The write side of one directory sync, inside one tenant transaction: each page merged as it arrives, then
/// one sweep and the closure.
///
/// ``prepare()`` creates transaction-local staging tables, takes the connection row `FOR KEY SHARE` and reads
/// the membership graph as stored. ``stage(_:)`` merges a page at once (while the reader fetches the next one):
/// it stages the page with array-bound inserts, counts what it adds, changes and moves, upserts the objects by
/// objectGUID and brings the member edges of its groups to what the DC listed; on a first sync (nothing stored)
/// it inserts the page straight into the stored tables instead. ``stageDeletions(_:)`` stages
/// tombstones. ``finish(_:threshold:confirmsDeletions:watermark:)`` marks what goes (mark and sweep for a full
/// sync), applies the deletion guard, sweeps, rewrites the DNs below renamed containers (incremental), writes
/// the closure rows that changed and stores the watermark. Nothing is visible to others until the transaction
/// commits, and a failure anywhere, the deletion guard included, rolls all of it back.
package struct DirectoryStaging: Sendable {
    let tx: Transaction
    let tenantID: TenantID
    let connectionID: DirectoryConnectionID

    /// Whether the staged pages are the whole directory or the changes since the watermark.
    package enum Mode: Sendable, Hashable {
        /// Every object was staged: stored objects that were not are deleted.
        case full
        /// Changed objects and tombstones were staged: only those are applied.
        case incremental
    }

    /// Thrown by ``DirectoryStaging/finish(_:threshold:confirmsDeletions:watermark:)`` when the run would delete
    /// more than the threshold allows; the caller rolls the transaction back.
    package struct DeletionGuardTripped: Error, Hashable, Sendable {
        package var pendingDeletions: Int
        package var allowedDeletions: Int
        package var counts: SyncCounts

        package init(pendingDeletions: Int, allowedDeletions: Int, counts: SyncCounts) {
            self.pendingDeletions = pendingDeletions
            self.allowedDeletions = allowedDeletions
            self.counts = counts
        }
    }

    /// Objects of the connection stored before this run.
    private var storedObjects = 0
    /// The membership graph as stored before this run; the closure rows that change are derived from it.
    private var graphBefore = MembershipGraph()
    /// The member GUIDs of every group staged so far (its complete list, as the DC returned it).
    private var stagedMembers: [ObjectGUID: Set<ObjectGUID>] = [:]
    private var stagedGUIDs = Set<ObjectGUID>()
    /// The `primaryGroupID` of every staged object that has one, and the staged groups by SID: after a full sync
    /// the stored objects are exactly the staged ones, so their primary groups are known without a query.
    private var stagedPrimaryGroupIDs: [ObjectGUID: Int64] = [:]
    private var stagedGroupsBySID: [String: ObjectGUID] = [:]
    /// The same facts as stored before this run: an incremental sync's primary groups after the merge are these
    /// with the staged and deleted objects' replaced, without reading them back.
    private var storedPrimaryGroupIDs: [ObjectGUID: Int64] = [:]
    private var storedGroupsBySID: [String: ObjectGUID] = [:]
    private var pages: Int32 = 0
    private var counts = SyncCounts()
    /// Staged objects whose stored DN differs (renamed or moved), recorded in `renamed_directory_objects`.
    private var renamed = 0

    init(tx: Transaction, tenantID: TenantID, connectionID: DirectoryConnectionID) {
        self.tx = tx
        self.tenantID = tenantID
        self.connectionID = connectionID
    }

    /// Creates the staging tables (dropped at commit), holds the connection row against deletion until commit
    /// and reads the stored membership graph.
    ///
    /// - Parameter domainSID: the stored watermark's domain SID, which primary groups resolve against.
    package mutating func prepare(domainSID: String?) async throws {
        try await tx.query(
            """
            SELECT 1 FROM directory_connections
            WHERE tenant_id = \(tenantID.rawValue) AND id = \(connectionID.rawValue) FOR KEY SHARE
            """
        )
        try await tx.query(
            """
            CREATE TEMP TABLE staged_directory_objects (
                guid uuid PRIMARY KEY, page integer NOT NULL, kind text NOT NULL, dn text NOT NULL, parent_guid uuid,
                name text NOT NULL, sam_account_name text, user_principal_name text, dns_host_name text,
                display_name text, sid text, disabled boolean NOT NULL, primary_group_id bigint, group_type bigint,
                usn_changed bigint NOT NULL
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
        // Containers whose DN changed, with the DN stored before: their descendants that the DC does not return
        // again get the new suffix in `finish`.
        try await tx.query(
            "CREATE TEMP TABLE renamed_directory_objects (old_dn text NOT NULL, new_dn text NOT NULL) ON COMMIT DROP"
        )
        let rows = try await tx.query(
            """
            SELECT count(*) FROM directory_objects WHERE tenant_id = \(tenantID.rawValue)
              AND connection_id = \(connectionID.rawValue)
            """
        )
        for try await count in rows.decode(Int64.self) { storedObjects = Int(count) }
        graphBefore = storedObjects == 0 ? MembershipGraph() : try await storedGraph(domainSID: domainSID)
    }

    /// Merges one page of objects (and the members of its groups) into the stored directory.
    ///
    /// - Parameter mode: `.incremental` also records renamed containers, whose stored descendants `finish`
    ///   rewrites.
    package mutating func stage(_ page: [DirectoryEntry], mode: Mode) async throws {
        // A paged search returns each object once; should a server repeat one, the first copy stands.
        let entries = page.filter { stagedGUIDs.insert($0.guid).inserted }
        guard !entries.isEmpty else { return }
        pages += 1
        let pageNumber = pages
        let tenant = tenantID.rawValue
        let connection = connectionID.rawValue
        for entry in entries {
            if entry.kind == .group {
                stagedMembers[entry.guid] = Set((entry.members ?? []).compactMap(\.guid))
                if let sid = entry.sid { stagedGroupsBySID[sid] = entry.guid }
            }
            if let primaryGroupID = entry.primaryGroupID { stagedPrimaryGroupIDs[entry.guid] = primaryGroupID }
        }

        if storedObjects == 0 {
            // A first sync has nothing to compare with, rename or sweep: the page goes straight into the stored
            // tables, without the staging tables' copy.
            try await insertFirst(entries)
            for entry in entries { counts.byKind[entry.kind.rawValue, default: SyncCounts.Tally()].added += 1 }
            return
        }

        // Arrays cannot carry NULL elements through the binds used here, so absent values travel as '' (text)
        // or a sentinel (numbers, the nil UUID) and become NULL in SQL.
        let absent = Int64.min
        let noGUID = Self.noGUID
        try await tx.query(
            """
            INSERT INTO staged_directory_objects (guid, page, kind, dn, parent_guid, name, sam_account_name,
                user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id, group_type,
                usn_changed)
            SELECT guid, \(pageNumber), kind, dn, NULLIF(parent, \(noGUID)), name, NULLIF(sam, ''), NULLIF(upn, ''),
                NULLIF(host, ''), NULLIF(display, ''), NULLIF(sid, ''), disabled, NULLIF(pgid, \(absent)),
                NULLIF(gtype, \(absent)), usn
            FROM unnest(\(entries.map(\.guid.rawValue))::uuid[], \(entries.map(\.kind.rawValue))::text[],
                \(entries.map(\.dn))::text[], \(entries.map { $0.parentGUID?.rawValue ?? noGUID })::uuid[],
                \(entries.map(\.name))::text[], \(entries.map { $0.samAccountName ?? "" })::text[],
                \(entries.map { $0.userPrincipalName ?? "" })::text[], \(entries.map { $0.dnsHostName ?? "" })::text[],
                \(entries.map { $0.displayName ?? "" })::text[], \(entries.map { $0.sid ?? "" })::text[],
                \(entries.map(\.isDisabled))::boolean[], \(entries.map { $0.primaryGroupID ?? absent })::bigint[],
                \(entries.map { $0.groupType ?? absent })::bigint[], \(entries.map(\.usnChanged))::bigint[])
                AS s(guid, kind, dn, parent, name, sam, upn, host, display, sid, disabled, pgid, gtype, usn)
            """
        )
        let edges = MemberArrays(entries)
        if !edges.groups.isEmpty {
            try await tx.query(
                """
                INSERT INTO staged_directory_members (group_guid, member_ref, member_guid, member_dn, member_sid)
                SELECT g, r, NULLIF(m, \(noGUID)), d, NULLIF(s, '')
                FROM unnest(\(edges.groups)::uuid[], \(edges.references)::text[], \(edges.guids)::uuid[],
                    \(edges.dns)::text[], \(edges.sids)::text[]) AS x(g, r, m, d, s)
                ON CONFLICT DO NOTHING
                """
            )
        }
        if pageNumber == 1 {
            // Statistics for the staging tables, once: without them the planner joins a page to every stored
            // row instead of looking its objects up by key (0.2–0.35 s a statement at 13,000 objects).
            try await tx.query("ANALYZE staged_directory_objects, staged_directory_members")
        }

        // Counted against the stored rows before this page is merged.
        let tallies = try await tx.query(
            """
            SELECT s.kind,
                   count(*) FILTER (WHERE o.guid IS NULL),
                   count(*) FILTER (WHERE o.guid IS NOT NULL AND o.parent_guid IS NOT DISTINCT FROM s.parent_guid
                       AND (o.kind, o.dn, o.name, o.sam_account_name, o.user_principal_name, o.dns_host_name,
                            o.display_name, o.sid, o.disabled, o.primary_group_id, o.group_type)
                       IS DISTINCT FROM (s.kind, s.dn, s.name, s.sam_account_name, s.user_principal_name,
                            s.dns_host_name, s.display_name, s.sid, s.disabled, s.primary_group_id,
                            s.group_type::integer)),
                   count(*) FILTER (WHERE o.guid IS NOT NULL AND o.parent_guid IS DISTINCT FROM s.parent_guid)
            FROM staged_directory_objects s
            LEFT JOIN directory_objects o
                ON o.tenant_id = \(tenant) AND o.connection_id = \(connection) AND o.guid = s.guid
            WHERE s.page = \(pageNumber)
            GROUP BY s.kind
            """
        )
        for try await (kind, added, changed, moved) in tallies.decode((String, Int64, Int64, Int64).self) {
            var tally = counts.byKind[kind] ?? SyncCounts.Tally()
            tally.added += Int(added)
            tally.changed += Int(changed)
            tally.moved += Int(moved)
            counts.byKind[kind] = tally
        }

        if mode == .incremental {
            let rows = try await tx.query(
                """
                INSERT INTO renamed_directory_objects (old_dn, new_dn)
                SELECT o.dn, s.dn FROM staged_directory_objects s
                JOIN directory_objects o
                    ON o.tenant_id = \(tenant) AND o.connection_id = \(connection) AND o.guid = s.guid
                WHERE s.page = \(pageNumber) AND o.dn <> s.dn
                RETURNING 1
                """
            )
            for try await _ in rows { renamed += 1 }
        }

        try await tx.query(
            """
            INSERT INTO directory_objects (tenant_id, connection_id, guid, kind, dn, parent_guid, name,
                sam_account_name, user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id,
                group_type, usn_changed)
            SELECT \(tenant), \(connection), guid, kind, dn, parent_guid, name, sam_account_name,
                user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id, group_type::integer,
                usn_changed
            FROM staged_directory_objects WHERE page = \(pageNumber)
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

        // A staged group's member list is complete: its stored edges become exactly that list. Only the edges
        // that differ are written, so a periodic full sync of an unchanged directory rewrites none.
        let groups = entries.filter { $0.kind == .group }.map(\.guid.rawValue)
        guard !groups.isEmpty else { return }
        // The groups by key (not a join with the staging table), so the stored edges are read through the primary
        // key whatever the planner knows of a just-filled table.
        try await tx.query(
            """
            DELETE FROM directory_members m
            WHERE m.tenant_id = \(tenant) AND m.connection_id = \(connection) AND m.group_guid = ANY(\(groups)::uuid[])
              AND NOT EXISTS (SELECT 1 FROM staged_directory_members x
                              WHERE x.group_guid = m.group_guid AND x.member_ref = m.member_ref)
            """
        )
        try await tx.query(
            """
            INSERT INTO directory_members (tenant_id, connection_id, group_guid, member_ref, member_guid, member_dn,
                member_sid)
            SELECT \(tenant), \(connection), m.group_guid, m.member_ref, m.member_guid, m.member_dn, m.member_sid
            FROM staged_directory_objects s
            JOIN staged_directory_members m ON m.group_guid = s.guid
            WHERE s.page = \(pageNumber) AND s.kind = 'group'
            ON CONFLICT (tenant_id, connection_id, group_guid, member_ref) DO UPDATE SET
                member_guid = EXCLUDED.member_guid, member_dn = EXCLUDED.member_dn, member_sid = EXCLUDED.member_sid
            WHERE (directory_members.member_guid, directory_members.member_dn, directory_members.member_sid)
                IS DISTINCT FROM (EXCLUDED.member_guid, EXCLUDED.member_dn, EXCLUDED.member_sid)
            """
        )
    }

    /// Inserts a page of a first sync (no stored objects) into the stored tables, objects before their groups' edges.
    private func insertFirst(_ entries: [DirectoryEntry]) async throws {
        let absent = Int64.min
        let noGUID = Self.noGUID
        try await tx.query(
            """
            INSERT INTO directory_objects (tenant_id, connection_id, guid, kind, dn, parent_guid, name,
                sam_account_name, user_principal_name, dns_host_name, display_name, sid, disabled, primary_group_id,
                group_type, usn_changed)
            SELECT \(tenantID.rawValue), \(connectionID.rawValue), guid, kind, dn, NULLIF(parent, \(noGUID)), name,
                NULLIF(sam, ''), NULLIF(upn, ''), NULLIF(host, ''), NULLIF(display, ''), NULLIF(sid, ''), disabled,
                NULLIF(pgid, \(absent)), NULLIF(gtype, \(absent))::integer, usn
            FROM unnest(\(entries.map(\.guid.rawValue))::uuid[], \(entries.map(\.kind.rawValue))::text[],
                \(entries.map(\.dn))::text[], \(entries.map { $0.parentGUID?.rawValue ?? noGUID })::uuid[],
                \(entries.map(\.name))::text[], \(entries.map { $0.samAccountName ?? "" })::text[],
                \(entries.map { $0.userPrincipalName ?? "" })::text[], \(entries.map { $0.dnsHostName ?? "" })::text[],
                \(entries.map { $0.displayName ?? "" })::text[], \(entries.map { $0.sid ?? "" })::text[],
                \(entries.map(\.isDisabled))::boolean[], \(entries.map { $0.primaryGroupID ?? absent })::bigint[],
                \(entries.map { $0.groupType ?? absent })::bigint[], \(entries.map(\.usnChanged))::bigint[])
                AS s(guid, kind, dn, parent, name, sam, upn, host, display, sid, disabled, pgid, gtype, usn)
            """
        )
        let edges = MemberArrays(entries)
        guard !edges.groups.isEmpty else { return }
        try await tx.query(
            """
            INSERT INTO directory_members (tenant_id, connection_id, group_guid, member_ref, member_guid, member_dn,
                member_sid)
            SELECT \(tenantID.rawValue), \(connectionID.rawValue), g, r, NULLIF(m, \(noGUID)), d, NULLIF(s, '')
            FROM unnest(\(edges.groups)::uuid[], \(edges.references)::text[], \(edges.guids)::uuid[],
                \(edges.dns)::text[], \(edges.sids)::text[]) AS x(g, r, m, d, s)
            ON CONFLICT DO NOTHING
            """
        )
    }

    /// The member values of a page's groups as parallel arrays, absent GUIDs and SIDs as sentinels.
    private struct MemberArrays {
        var groups: [UUID] = []
        var references: [String] = []
        var guids: [UUID] = []
        var dns: [String] = []
        var sids: [String] = []

        init(_ entries: [DirectoryEntry]) {
            for entry in entries {
                for member in entry.members ?? [] {
                    groups.append(entry.guid.rawValue)
                    references.append(member.reference)
                    guids.append(member.guid?.rawValue ?? DirectoryStaging.noGUID)
                    dns.append(member.dn)
                    sids.append(member.sid ?? "")
                }
            }
        }
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

    /// Ends the run: marks and sweeps deletions behind the deletion guard, fixes DNs below renamed containers,
    /// writes the closure rows that changed and stores the watermark.
    ///
    /// - Parameters:
    ///   - mode: `.full` deletes every stored object that was not staged; `.incremental` deletes the staged
    ///     tombstones only.
    ///   - threshold: the deletion guard; ignored when `confirmsDeletions`.
    /// - Returns: the counts per kind.
    /// - Throws: ``DeletionGuardTripped`` when the deletions exceed the threshold; the caller rolls back.
    package func finish(
        _ mode: Mode, threshold: DeletionThreshold, confirmsDeletions: Bool, watermark: StoredWatermark
    ) async throws -> SyncCounts {
        let tenant = tenantID.rawValue
        let connection = connectionID.rawValue
        var counts = counts

        // Mark: which stored objects go.
        if storedObjects > 0 {
            switch mode {
            case .full:
                try await tx.query(
                    """
                    INSERT INTO doomed_directory_objects (guid, kind)
                    SELECT o.guid, o.kind FROM directory_objects o
                    WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connection)
                      AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = o.guid)
                    """
                )
            case .incremental:
                try await tx.query(
                    """
                    INSERT INTO doomed_directory_objects (guid, kind)
                    SELECT o.guid, o.kind FROM directory_objects o
                    JOIN staged_directory_deletions d ON d.guid = o.guid
                    WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connection)
                      AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = o.guid)
                    """
                )
            }
        }
        var doomed: [ObjectGUID] = []
        let doomedRows = try await tx.query("SELECT guid, kind FROM doomed_directory_objects")
        for try await (guid, kind) in doomedRows.decode((UUID, String).self) {
            doomed.append(ObjectGUID(guid))
            counts.byKind[kind, default: SyncCounts.Tally()].deleted += 1
        }

        // The deletion guard.
        if !doomed.isEmpty && !confirmsDeletions {
            let allowed = threshold.allowedDeletions(stored: storedObjects)
            if doomed.count > allowed {
                throw DeletionGuardTripped(pendingDeletions: doomed.count, allowedDeletions: allowed, counts: counts)
            }
        }

        // Sweep. Edges to a deleted object go, except from groups staged in this run, whose lists are the DC's.
        if !doomed.isEmpty {
            try await tx.query(
                """
                DELETE FROM directory_members m USING doomed_directory_objects d
                WHERE m.tenant_id = \(tenant) AND m.connection_id = \(connection) AND m.member_guid = d.guid
                  AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = m.group_guid)
                """
            )
            try await tx.query(
                """
                DELETE FROM directory_objects o USING doomed_directory_objects d
                WHERE o.tenant_id = \(tenant) AND o.connection_id = \(connection) AND o.guid = d.guid
                """
            )
        }

        if mode == .incremental && renamed > 0 {
            // Renaming or moving a container changes its descendants' DNs without returning them: rewrite the
            // DN suffix of every stored descendant that was not itself staged.
            try await tx.query(
                """
                UPDATE directory_objects d
                SET dn = left(d.dn, length(d.dn) - length(r.old_dn)) || r.new_dn, updated_at = now()
                FROM renamed_directory_objects r
                WHERE d.tenant_id = \(tenant) AND d.connection_id = \(connection)
                  AND lower(right(d.dn, length(r.old_dn) + 1)) = lower(',' || r.old_dn)
                  AND NOT EXISTS (SELECT 1 FROM staged_directory_objects s WHERE s.guid = d.guid)
                """
            )
            // Members named by DN follow renames of the objects they name (a full sync read every edge afresh).
            // Only objects written in this transaction can have a new DN; `now()` is the transaction's start.
            try await tx.query(
                """
                UPDATE directory_members m SET member_dn = o.dn
                FROM directory_objects o
                WHERE m.tenant_id = \(tenant) AND m.connection_id = \(connection)
                  AND o.tenant_id = \(tenant) AND o.connection_id = \(connection) AND o.updated_at = now()
                  AND o.guid = m.member_guid AND m.member_dn <> o.dn
                """
            )
        }

        // An incremental sync that wrote most of the connection's rows leaves the planner without statistics for
        // the primary-group join in `writeClosure` (autovacuum analyzes the tables, and the closure table, after
        // commit). A full sync, the first one included, needs none: it resolves primary groups from the staged
        // objects.
        let written = counts.byKind.values.reduce(0) { $0 + $1.added + $1.deleted }
        if mode == .incremental && written > 1000 && written > storedObjects {
            try await tx.query("SELECT charter_private.analyze_directory()")
        }

        try await writeClosure(doomed: Set(doomed), mode: mode, domainSID: watermark.domainSID)
        try await store(watermark, isFull: mode == .full)
        return counts
    }

    // MARK: - Closure

    /// Writes the closure rows that differ between the graph as stored before this run and as merged now.
    private func writeClosure(doomed: Set<ObjectGUID>, mode: Mode, domainSID: String?) async throws {
        // The edges after the merge: staged groups have their DC lists; deleted groups are gone; edges from
        // other groups to deleted objects are gone (the sweep above).
        var graphAfter = graphBefore
        for (group, groupMembers) in stagedMembers {
            graphAfter.members[group] = groupMembers.isEmpty ? nil : groupMembers
        }
        if !doomed.isEmpty {
            for group in doomed where stagedMembers[group] == nil { graphAfter.members[group] = nil }
            for (group, groupMembers) in graphAfter.members where stagedMembers[group] == nil {
                let kept = groupMembers.subtracting(doomed)
                if kept.count != groupMembers.count { graphAfter.members[group] = kept.isEmpty ? nil : kept }
            }
        }
        // Primary groups depend on objects and group SIDs anywhere in the connection. After a full sync those are
        // the staged objects; after an incremental one, the stored ones with the staged and deleted replaced.
        graphAfter.primaryGroups =
            mode == .full
            ? stagedPrimaryGroups(domainSID: domainSID) : mergedPrimaryGroups(doomed: doomed, domainSID: domainSID)

        if storedObjects == 0 {
            try await tx.query(
                """
                DELETE FROM directory_memberships
                WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connectionID.rawValue)
                """
            )
            try await insert(graphAfter.closure().rows)
            return
        }
        let affected = graphBefore.objectsAffected(comparedTo: graphAfter)
        guard !affected.isEmpty else { return }
        let oldRows = Set(graphBefore.closureRows(of: affected))
        let newRows = Set(graphAfter.closureRows(of: affected))
        let gone = oldRows.subtracting(newRows)
        if !gone.isEmpty {
            try await tx.query(
                """
                DELETE FROM directory_memberships m
                USING unnest(\(gone.map(\.member.rawValue))::uuid[], \(gone.map(\.group.rawValue))::uuid[]) AS x(mg, gg)
                WHERE m.tenant_id = \(tenantID.rawValue) AND m.connection_id = \(connectionID.rawValue)
                  AND m.member_guid = x.mg AND m.group_guid = x.gg
                """
            )
        }
        try await insert(Array(newRows.subtracting(oldRows)))
    }

    /// The connection's stored membership facts: direct edges between known GUIDs and primary groups.
    ///
    /// Each fact comes as one row of parallel arrays: decoding 32,500 edges as rows took 0.12 s, as arrays a
    /// fraction of that.
    private mutating func storedGraph(domainSID: String?) async throws -> MembershipGraph {
        var graph = MembershipGraph()
        let edges = try await tx.query(
            """
            SELECT array_agg(group_guid), array_agg(member_guid) FROM directory_members
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connectionID.rawValue)
              AND member_guid IS NOT NULL
            """
        )
        for try await (groups, members) in edges.decode(([UUID]?, [UUID]?).self) {
            for (group, member) in zip(groups ?? [], members ?? []) {
                graph.members[ObjectGUID(group), default: []].insert(ObjectGUID(member))
            }
        }
        // Each stored object's primary group among the connection's groups: domain SID + primaryGroupID. Two plain
        // reads joined here: the join `g.sid = domain SID || '-' || o.primary_group_id` has no index to use, and
        // planned on stale statistics (a sync right after a first one, before autovacuum analyzed the tables) it
        // ran for over a minute.
        let groups = try await tx.query(
            """
            SELECT array_agg(sid), array_agg(guid) FROM directory_objects
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connectionID.rawValue) AND kind = 'group'
              AND sid IS NOT NULL
            """
        )
        for try await (sids, guids) in groups.decode(([String]?, [UUID]?).self) {
            for (sid, group) in zip(sids ?? [], guids ?? []) { storedGroupsBySID[sid] = ObjectGUID(group) }
        }
        let objects = try await tx.query(
            """
            SELECT array_agg(guid), array_agg(primary_group_id) FROM directory_objects
            WHERE tenant_id = \(tenantID.rawValue) AND connection_id = \(connectionID.rawValue)
              AND primary_group_id IS NOT NULL
            """
        )
        for try await (guids, primaryGroupIDs) in objects.decode(([UUID]?, [Int64]?).self) {
            for (object, primaryGroupID) in zip(guids ?? [], primaryGroupIDs ?? []) {
                storedPrimaryGroupIDs[ObjectGUID(object)] = primaryGroupID
            }
        }
        if let domainSID {
            graph.primaryGroups = Self.resolve(storedPrimaryGroupIDs, groupsBySID: storedGroupsBySID, domainSID: domainSID)
        }
        return graph
    }

    /// Each staged object's primary group among the staged groups: after a full sync the stored objects are
    /// exactly the staged ones, so their primary groups are known without a query.
    private func stagedPrimaryGroups(domainSID: String?) -> [ObjectGUID: ObjectGUID] {
        guard let domainSID else { return [:] }
        return Self.resolve(stagedPrimaryGroupIDs, groupsBySID: stagedGroupsBySID, domainSID: domainSID)
    }

    /// Each object's primary group after an incremental merge: the stored facts, with those of staged and deleted
    /// objects replaced by what was staged.
    private func mergedPrimaryGroups(doomed: Set<ObjectGUID>, domainSID: String?) -> [ObjectGUID: ObjectGUID] {
        guard let domainSID else { return [:] }
        let replaced = stagedGUIDs.union(doomed)
        var primaryGroupIDs = storedPrimaryGroupIDs.filter { !replaced.contains($0.key) }
        primaryGroupIDs.merge(stagedPrimaryGroupIDs) { _, staged in staged }
        var groupsBySID = storedGroupsBySID.filter { !replaced.contains($0.value) }
        groupsBySID.merge(stagedGroupsBySID) { _, staged in staged }
        return Self.resolve(primaryGroupIDs, groupsBySID: groupsBySID, domainSID: domainSID)
    }

    /// Primary groups: the group whose SID is the domain SID followed by the object's primaryGroupID.
    private static func resolve(
        _ primaryGroupIDs: [ObjectGUID: Int64], groupsBySID: [String: ObjectGUID], domainSID: String
    ) -> [ObjectGUID: ObjectGUID] {
        var result: [ObjectGUID: ObjectGUID] = [:]
        for (object, primaryGroupID) in primaryGroupIDs {
            if let group = groupsBySID["\(domainSID)-\(primaryGroupID)"] { result[object] = group }
        }
        return result
    }

    /// Inserts closure rows in statements of 20,000; each row's chain is a slice of one flat array of GUIDs.
    private func insert(_ rows: [MembershipClosure.Row]) async throws {
        let chunk = 20_000
        var start = 0
        while start < rows.count {
            let slice = rows[start..<min(start + chunk, rows.count)]
            var chains: [UUID] = []
            var offsets: [Int32] = []
            chains.reserveCapacity(slice.count * 3)
            offsets.reserveCapacity(slice.count)
            for row in slice {
                offsets.append(Int32(chains.count + 1))
                for group in row.chain { chains.append(group.rawValue) }
            }
            try await tx.query(
                """
                INSERT INTO directory_memberships (tenant_id, connection_id, member_guid, group_guid, depth, chain)
                SELECT \(tenantID.rawValue), \(connectionID.rawValue), m, g, d, c.chains[o:o + d - 1]
                FROM unnest(\(slice.map(\.member.rawValue))::uuid[], \(slice.map(\.group.rawValue))::uuid[],
                    \(slice.map { Int32($0.depth) })::integer[], \(offsets)::integer[]) AS x(m, g, d, o),
                    (SELECT \(chains)::uuid[] AS chains) AS c
                """
            )
            start += chunk
        }
    }

    /// Stands for "no GUID" in bound arrays (which carry no NULL elements); no directory object has it.
    fileprivate static let noGUID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    private func store(_ watermark: StoredWatermark, isFull: Bool) async throws {
        try await tx.query(
            """
            INSERT INTO directory_watermarks (tenant_id, connection_id, dc_service_name, invocation_id, usn,
                domain_sid, last_full_sync_at, synced_at)
            VALUES (\(tenantID.rawValue), \(connectionID.rawValue), \(watermark.serviceName),
                \(watermark.invocationID), \(watermark.usn), \(watermark.domainSID), \(watermark.lastFullSyncAt),
                \(watermark.syncedAt))
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
