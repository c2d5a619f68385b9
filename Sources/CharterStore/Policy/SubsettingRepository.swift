package import CharterCore
import CharterJSON
package import Foundation
import PostgresNIO

/// The ordered subsettings of the tenant selected on the transaction.
///
/// Every change of the list (create, delete, reorder) first takes a transaction-scoped advisory lock on the
/// tenant's list, so positions stay dense (0, 1, 2, …) under concurrent writers.
package struct SubsettingRepository: Sendable {
    let tx: Transaction

    typealias Row = (UUID, Int, String, String, Bool, String, [UUID], [UUID], String, Int64, Date, Date)

    private static let columns = """
        id, position, name, description, enabled, target, scope_groups, scope_ous, overrides, version,
        created_at, updated_at
        """

    static func stored(_ row: Row) throws -> StoredSubsetting {
        let id = SubsettingID(row.0)
        let overrides: SettingsOverrides
        do {
            overrides = try SettingsOverrides.decode(from: Data(row.8.utf8))
        } catch {
            throw PolicyStoreError.corruptDocument(table: "subsettings", id: id.description, issues: error)
        }
        guard let target = Subsetting.Target(rawValue: row.5) else {
            let issue = DocumentIssue(pointer: "/target", message: "unknown target \(row.5)")
            throw PolicyStoreError.corruptDocument(
                table: "subsettings",
                id: id.description,
                issues: DocumentError(issues: [issue])
            )
        }
        let subsetting = Subsetting(
            id: id,
            name: row.2,
            description: row.3,
            isEnabled: row.4,
            target: target,
            scope: Subsetting.Scope(
                groups: Set(row.6.map(ObjectGUID.init)),
                organizationalUnits: Set(row.7.map(ObjectGUID.init))
            ),
            overrides: overrides
        )
        return StoredSubsetting(
            subsetting: subsetting,
            priority: row.1,
            version: row.9,
            createdAt: row.10,
            updatedAt: row.11
        )
    }

    /// Serialises changes of one tenant's list until the transaction ends.
    private func lockList(_ tenant: TenantID) async throws {
        let key = "subsettings:\(tenant.description)"
        try await tx.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))")
    }

    /// Every subsetting of the tenant, in priority order.
    package func list(_ tenant: TenantID) async throws -> [StoredSubsetting] {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM subsettings
            WHERE tenant_id = \(tenant.rawValue) ORDER BY position
            """
        )
        var subsettings: [StoredSubsetting] = []
        for try await row in rows.decode(Row.self) { subsettings.append(try Self.stored(row)) }
        return subsettings
    }

    /// One subsetting.
    ///
    /// - Throws: ``StoreError/notFound``.
    package func get(_ tenant: TenantID, id: SubsettingID, forUpdate: Bool = false) async throws -> StoredSubsetting {
        let rows = try await tx.query(
            """
            SELECT \(unescaped: Self.columns) FROM subsettings
            WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue) \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """
        )
        for try await row in rows.decode(Row.self) { return try Self.stored(row) }
        throw StoreError.notFound
    }

    /// Inserts a subsetting at `position` (moving later ones down), or at the end when `position` is `nil`.
    ///
    /// - Throws: ``PolicyStoreError/positionOutOfRange(requested:maximum:)`` for a position past the end;
    ///   ``StoreError/alreadyExists(constraint:)`` when the id is taken.
    package func create(
        _ tenant: TenantID,
        _ subsetting: Subsetting,
        at position: Int?,
        now: Date
    ) async throws -> StoredSubsetting {
        try await lockList(tenant)
        let count = try await self.count(tenant)
        let position = position ?? count
        guard (0...count).contains(position) else {
            throw PolicyStoreError.positionOutOfRange(requested: position, maximum: count)
        }
        try await tx.query(
            """
            UPDATE subsettings SET position = position + 1
            WHERE tenant_id = \(tenant.rawValue) AND position >= \(position)
            """
        )
        let rows = try await tx.query(
            """
            INSERT INTO subsettings (tenant_id, id, position, name, description, enabled, target, scope_groups,
                scope_ous, overrides, version, created_at, updated_at)
            VALUES (\(tenant.rawValue), \(subsetting.id.rawValue), \(position), \(subsetting.name),
                \(subsetting.description), \(subsetting.isEnabled), \(subsetting.target.rawValue),
                \(Self.sorted(subsetting.scope.groups)), \(Self.sorted(subsetting.scope.organizationalUnits)),
                \(Self.overridesText(subsetting)), 1, \(now), \(now))
            RETURNING \(unescaped: Self.columns)
            """
        )
        for try await row in rows.decode(Row.self) { return try Self.stored(row) }
        throw StoreError.notFound
    }

    /// Replaces a subsetting's content (not its position) if its version still is `expectedVersion`.
    ///
    /// - Returns: The subsetting before and after.
    /// - Throws: ``StoreError/notFound``; ``StoreError/versionMismatch(current:)``.
    package func update(
        _ tenant: TenantID,
        _ subsetting: Subsetting,
        expectedVersion: Int64?,
        now: Date
    ) async throws -> (before: StoredSubsetting, after: StoredSubsetting) {
        let before = try await get(tenant, id: subsetting.id, forUpdate: true)
        if let expectedVersion, expectedVersion != before.version {
            throw StoreError.versionMismatch(current: before.version)
        }
        let rows = try await tx.query(
            """
            UPDATE subsettings SET name = \(subsetting.name), description = \(subsetting.description),
                enabled = \(subsetting.isEnabled), target = \(subsetting.target.rawValue),
                scope_groups = \(Self.sorted(subsetting.scope.groups)),
                scope_ous = \(Self.sorted(subsetting.scope.organizationalUnits)),
                overrides = \(Self.overridesText(subsetting)), version = version + 1, updated_at = \(now)
            WHERE tenant_id = \(tenant.rawValue) AND id = \(subsetting.id.rawValue) AND version = \(before.version)
            RETURNING \(unescaped: Self.columns)
            """
        )
        for try await row in rows.decode(Row.self) { return (before, try Self.stored(row)) }
        throw StoreError.versionMismatch(current: before.version)
    }

    /// Deletes a subsetting if its version still is `expectedVersion`, closing the gap in the list.
    ///
    /// - Returns: The subsetting as it was.
    /// - Throws: ``StoreError/notFound``; ``StoreError/versionMismatch(current:)``.
    package func delete(_ tenant: TenantID, id: SubsettingID, expectedVersion: Int64?) async throws -> StoredSubsetting
    {
        try await lockList(tenant)
        let before = try await get(tenant, id: id, forUpdate: true)
        if let expectedVersion, expectedVersion != before.version {
            throw StoreError.versionMismatch(current: before.version)
        }
        try await tx.query("DELETE FROM subsettings WHERE tenant_id = \(tenant.rawValue) AND id = \(id.rawValue)")
        try await tx.query(
            """
            UPDATE subsettings SET position = position - 1
            WHERE tenant_id = \(tenant.rawValue) AND position > \(before.priority)
            """
        )
        return before
    }

    /// Puts the subsettings in the order of `ids`, which must name every subsetting of the tenant exactly once.
    ///
    /// - Returns: The list before and after, each in priority order.
    /// - Throws: ``PolicyStoreError/orderMismatch(_:)`` naming the first id that is repeated, unknown or missing.
    package func reorder(
        _ tenant: TenantID,
        to ids: [SubsettingID]
    ) async throws -> (before: [StoredSubsetting], after: [StoredSubsetting]) {
        try await lockList(tenant)
        let before = try await list(tenant)
        if let mismatch = SubsettingOrderMismatch.first(requested: ids, current: before.map(\.subsetting.id)) {
            throw PolicyStoreError.orderMismatch(mismatch)
        }
        let positions = Array(ids.indices)
        try await tx.query(
            """
            UPDATE subsettings AS s SET position = o.position
            FROM unnest(\(ids.map(\.rawValue))::uuid[], \(positions)::integer[]) AS o (id, position)
            WHERE s.tenant_id = \(tenant.rawValue) AND s.id = o.id AND s.position <> o.position
            """
        )
        return (before, try await list(tenant))
    }

    private func count(_ tenant: TenantID) async throws -> Int {
        let rows = try await tx.query("SELECT count(*)::integer FROM subsettings WHERE tenant_id = \(tenant.rawValue)")
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }

    private static func sorted(_ guids: Set<ObjectGUID>) -> [UUID] {
        guids.sorted().map(\.rawValue)
    }

    private static func overridesText(_ subsetting: Subsetting) -> String {
        String(decoding: subsetting.overrides.json.canonicalData, as: UTF8.self)
    }
}

/// What identifies a tenant's policy as it stands, read without decoding a document: the settings' version,
/// the subsettings' ids and versions in priority order, the assigned baselines' ids and versions in assignment
/// order, and the newest directory change (which can move what a baseline's named scope resolves to). Every
/// write of any of them changes it.
package struct PolicyStamp: Hashable, Sendable {
    package var settingsVersion: Int64
    package var subsettings: [SubsettingID]
    package var subsettingVersions: [Int64]
    package var baselines: [BaselineID]
    package var baselineVersions: [Int64]
    /// The change-feed sequence of the tenant's newest directory change still in the feed (0 without one).
    package var directoryChange: Int64

    package init(
        settingsVersion: Int64, subsettings: [SubsettingID], subsettingVersions: [Int64],
        baselines: [BaselineID] = [], baselineVersions: [Int64] = [], directoryChange: Int64 = 0
    ) {
        self.settingsVersion = settingsVersion
        self.subsettings = subsettings
        self.subsettingVersions = subsettingVersions
        self.baselines = baselines
        self.baselineVersions = baselineVersions
        self.directoryChange = directoryChange
    }
}

extension SubsettingRepository {
    /// The tenant's ``PolicyStamp``, in one query.
    package func stamp(_ tenant: TenantID) async throws -> PolicyStamp {
        let rows = try await tx.query(
            """
            SELECT coalesce((SELECT version FROM tenant_settings WHERE tenant_id = \(tenant.rawValue)), 0),
                   coalesce(array_agg(id ORDER BY position), '{}'), coalesce(array_agg(version ORDER BY position), '{}'),
                   (SELECT coalesce(array_agg(a.baseline_id ORDER BY a.position), '{}')
                    FROM tenant_baselines a WHERE a.tenant_id = \(tenant.rawValue)),
                   (SELECT coalesce(array_agg(b.version ORDER BY a.position), '{}')
                    FROM tenant_baselines a JOIN baselines b ON b.msp_id = a.msp_id AND b.id = a.baseline_id
                    WHERE a.tenant_id = \(tenant.rawValue)),
                   (SELECT coalesce(max(seq), 0) FROM change_feed
                    WHERE tenant_id = \(tenant.rawValue) AND event = 'bundle' AND data = '{"reason":"directory"}')
            FROM subsettings WHERE tenant_id = \(tenant.rawValue)
            """
        )
        for try await (version, ids, versions, baselines, baselineVersions, directoryChange) in rows.decode(
            (Int64, [UUID], [Int64], [UUID], [Int64], Int64).self
        ) {
            return PolicyStamp(
                settingsVersion: version, subsettings: ids.map { SubsettingID($0) }, subsettingVersions: versions,
                baselines: baselines.map { BaselineID($0) }, baselineVersions: baselineVersions,
                directoryChange: directoryChange
            )
        }
        return PolicyStamp(settingsVersion: 0, subsettings: [], subsettingVersions: [])
    }
}
