package import CharterCore
import CharterJSON
package import Foundation
import PostgresNIO

/// A baseline as stored: the baseline, its MSP and its version.
package struct StoredBaseline: Hashable, Sendable {
    package var baseline: Baseline
    package var msp: MSPID
    /// Incremented on every edit; the admin API's `ETag`.
    package var version: Int64
    package var createdAt: Date
    package var updatedAt: Date

    package init(baseline: Baseline, msp: MSPID, version: Int64, createdAt: Date, updatedAt: Date) {
        self.baseline = baseline
        self.msp = msp
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The baselines of the MSP selected on the transaction (migration 0020), and their assignment to tenants.
///
/// Inside an MSP transaction every baseline of the MSP and every assignment of its tenants is visible; inside
/// a tenant only its assignments and the baselines assigned to it (row-level security).
package struct BaselineRepository: Sendable {
    let tx: Transaction

    private typealias Row = (UUID, UUID, String, Int64, Date, Date)

    private static let columns = "b.msp_id, b.id, b.document, b.version, b.created_at, b.updated_at"

    private static func stored(_ row: Row) throws -> StoredBaseline {
        let id = BaselineID(row.1)
        let baseline: Baseline
        do {
            baseline = try Baseline.decode(from: Data(row.2.utf8), id: id)
        } catch {
            throw PolicyStoreError.corruptDocument(table: "baselines", id: id.description, issues: error)
        }
        return StoredBaseline(baseline: baseline, msp: MSPID(row.0), version: row.3, createdAt: row.4, updatedAt: row.5)
    }

    private func decode(_ rows: PostgresRowSequence) async throws -> [StoredBaseline] {
        var baselines: [StoredBaseline] = []
        for try await row in rows.decode(Row.self) { baselines.append(try Self.stored(row)) }
        return baselines
    }

    private static func document(_ baseline: Baseline) -> String {
        String(decoding: baseline.json.canonicalData, as: UTF8.self)
    }

    /// Every visible baseline of `msp`, by name.
    package func list(_ msp: MSPID) async throws -> [StoredBaseline] {
        try await decode(
            try await tx.query(
                """
                SELECT \(unescaped: Self.columns) FROM baselines b
                WHERE b.msp_id = \(msp.rawValue) ORDER BY lower(b.name), b.id
                """
            )
        )
    }

    /// One baseline of `msp`.
    ///
    /// - Throws: ``StoreError/notFound``.
    package func get(_ msp: MSPID, id: BaselineID, forUpdate: Bool = false) async throws -> StoredBaseline {
        let found = try await decode(
            try await tx.query(
                """
                SELECT \(unescaped: Self.columns) FROM baselines b
                WHERE b.msp_id = \(msp.rawValue) AND b.id = \(id.rawValue) \(unescaped: forUpdate ? "FOR UPDATE" : "")
                """
            )
        )
        guard let baseline = found.first else { throw StoreError.notFound }
        return baseline
    }

    /// Stores a new baseline at version 1.
    ///
    /// - Throws: ``StoreError/alreadyExists(constraint:)`` when the MSP has a baseline of that name.
    package func create(_ msp: MSPID, _ baseline: Baseline, now: Date) async throws -> StoredBaseline {
        let found = try await decode(
            try await tx.query(
                """
                INSERT INTO baselines AS b (msp_id, id, name, document, version, created_at, updated_at)
                VALUES (\(msp.rawValue), \(baseline.id.rawValue), \(baseline.name), \(Self.document(baseline)), 1,
                    \(now), \(now))
                RETURNING \(unescaped: Self.columns)
                """
            )
        )
        guard let created = found.first else { throw StoreError.notFound }
        return created
    }

    /// Replaces a baseline's document if its version still is `expectedVersion` (when given).
    ///
    /// - Returns: The baseline before and after.
    /// - Throws: ``StoreError/notFound``, ``StoreError/versionMismatch(current:)``,
    ///   ``StoreError/alreadyExists(constraint:)`` for a name another baseline of the MSP has.
    package func update(
        _ msp: MSPID, _ baseline: Baseline, expectedVersion: Int64?, now: Date
    ) async throws -> (before: StoredBaseline, after: StoredBaseline) {
        let before = try await get(msp, id: baseline.id, forUpdate: true)
        if let expectedVersion, expectedVersion != before.version {
            throw StoreError.versionMismatch(current: before.version)
        }
        let found = try await decode(
            try await tx.query(
                """
                UPDATE baselines AS b SET name = \(baseline.name), document = \(Self.document(baseline)),
                    version = b.version + 1, updated_at = \(now)
                WHERE b.msp_id = \(msp.rawValue) AND b.id = \(baseline.id.rawValue) AND b.version = \(before.version)
                RETURNING \(unescaped: Self.columns)
                """
            )
        )
        guard let after = found.first else { throw StoreError.versionMismatch(current: before.version) }
        return (before, after)
    }

    /// Deletes a baseline if its version still is `expectedVersion` (when given), with what deleted tenants kept
    /// of its assignment; the caller checks that no live tenant has it (``tenants(assignedTo:of:)``).
    ///
    /// - Returns: The baseline as it was.
    /// - Throws: ``StoreError/notFound``, ``StoreError/versionMismatch(current:)``; the assignments' foreign key
    ///   refuses (``StoreError/constraintViolated(constraint:)``) a baseline a live tenant still has.
    package func delete(_ msp: MSPID, id: BaselineID, expectedVersion: Int64?) async throws -> StoredBaseline {
        let before = try await get(msp, id: id, forUpdate: true)
        if let expectedVersion, expectedVersion != before.version {
            throw StoreError.versionMismatch(current: before.version)
        }
        try await tx.query(
            """
            DELETE FROM tenant_baselines a USING tenants t
            WHERE a.msp_id = \(msp.rawValue) AND a.baseline_id = \(id.rawValue) AND t.id = a.tenant_id
              AND t.deleted_at IS NOT NULL
            """
        )
        try await tx.query("DELETE FROM baselines WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue)")
        return before
    }

    // MARK: - Assignment

    /// The tenants, not deleted, that have `baseline` assigned, in id order (an MSP transaction sees all of them).
    package func tenants(assignedTo baseline: BaselineID, of msp: MSPID) async throws -> [TenantID] {
        let rows = try await tx.query(
            """
            SELECT a.tenant_id FROM tenant_baselines a JOIN tenants t ON t.id = a.tenant_id
            WHERE a.msp_id = \(msp.rawValue) AND a.baseline_id = \(baseline.rawValue) AND t.deleted_at IS NULL
            ORDER BY a.tenant_id
            """
        )
        var tenants: [TenantID] = []
        for try await id in rows.decode(UUID.self) { tenants.append(TenantID(id)) }
        return tenants
    }

    /// The baselines assigned to `tenant`, in assignment order.
    package func assigned(to tenant: TenantID) async throws -> [StoredBaseline] {
        try await decode(
            try await tx.query(
                """
                SELECT \(unescaped: Self.columns) FROM tenant_baselines a
                JOIN baselines b ON b.msp_id = a.msp_id AND b.id = a.baseline_id
                WHERE a.tenant_id = \(tenant.rawValue) ORDER BY a.position
                """
            )
        )
    }

    /// The baselines assigned to each of `tenants`, in assignment order, read in one statement: an MSP
    /// transaction sees every tenant of its MSP, a tenant's transaction only its own (row-level security). A
    /// tenant with no baseline, or one the transaction cannot see, has an empty list.
    package func assigned(to tenants: [TenantID]) async throws -> [TenantID: [StoredBaseline]] {
        let rows = try await tx.query(
            """
            SELECT a.tenant_id, \(unescaped: Self.columns) FROM tenant_baselines a
            JOIN baselines b ON b.msp_id = a.msp_id AND b.id = a.baseline_id
            WHERE a.tenant_id = ANY(\(tenants.map(\.rawValue))::uuid[]) ORDER BY a.tenant_id, a.position
            """
        )
        var assigned = Dictionary(uniqueKeysWithValues: tenants.map { ($0, [StoredBaseline]()) })
        for try await (tenant, msp, id, document, version, createdAt, updatedAt) in rows.decode(
            (UUID, UUID, UUID, String, Int64, Date, Date).self
        ) {
            assigned[TenantID(tenant), default: []].append(
                try Self.stored((msp, id, document, version, createdAt, updatedAt))
            )
        }
        return assigned
    }

    /// Replaces `tenant`'s assignment with `baselines`, in this order (distinct ids of `msp`'s baselines).
    ///
    /// - Returns: The ids assigned before, in order.
    /// - Throws: ``StoreError/constraintViolated(constraint:)`` for a baseline of another MSP or none.
    package func assign(_ baselines: [BaselineID], to tenant: TenantID, of msp: MSPID) async throws -> [BaselineID] {
        let rows = try await tx.query(
            """
            DELETE FROM tenant_baselines WHERE tenant_id = \(tenant.rawValue) RETURNING baseline_id, position
            """
        )
        var before: [(UUID, Int)] = []
        for try await row in rows.decode((UUID, Int).self) { before.append(row) }
        if !baselines.isEmpty {
            try await tx.query(
                """
                INSERT INTO tenant_baselines (tenant_id, position, msp_id, baseline_id)
                SELECT \(tenant.rawValue), o.position - 1, \(msp.rawValue), o.id
                FROM unnest(\(baselines.map(\.rawValue))::uuid[]) WITH ORDINALITY AS o (id, position)
                """
            )
        }
        return before.sorted { $0.1 < $1.1 }.map { BaselineID($0.0) }
    }
}

extension Transaction {
    /// The MSP's baselines and their assignment to tenants.
    package var baselines: BaselineRepository { BaselineRepository(tx: self) }

    /// Runs `body` with `tenant` selected inside this MSP transaction, then selects no tenant again.
    ///
    /// An MSP-wide operation that changes several tenants' policy (a baseline edit) writes each tenant's audit
    /// event and change-feed entry in the one transaction of the write, one tenant at a time; row-level security
    /// confines each step to its tenant as ``Database/withTenant(_:msp:logger:_:)`` would.
    ///
    /// - Throws: ``StoreError/notFound`` when the tenant does not belong to the transaction's MSP or is deleted.
    package func withinTenant<Result: Sendable>(
        _ tenant: TenantID, _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await enterTenant(tenant)
        guard try await tenants.exists(tenant) else { throw StoreError.notFound }
        let result = try await body(self)
        try await leaveTenant()
        return result
    }
}
