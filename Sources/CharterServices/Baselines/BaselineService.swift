package import CharterCore
import CharterJSON
package import CharterStore
package import Foundation

/// An MSP's baselines and their assignment to its tenants (docs/baselines.md).
///
/// A baseline is MSP-owned: it is created, edited and deleted in an MSP transaction, audited on the MSP's
/// chain. A write that changes the policy of assigned tenants works out, in the same transaction and for all
/// the tenants at once (``TenantBatchRepository``), which of each tenant's devices it reaches
/// (``PolicyChanges``), appends one `bundle` hint per tenant, and audits `baseline.applied` on each tenant's
/// chain, so a tenant's auditors see why its policy changed. Authorisation is the caller's.
package struct BaselineService: Sendable {
    let database: Database
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(database: Database, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    // MARK: - Baselines

    /// The MSP's baselines, by name.
    package func baselines(of msp: MSPID, by caller: Caller) async throws -> [StoredBaseline] {
        try await database.withMSP(msp, logger: caller.logger) { tx in try await tx.baselines.list(msp) }
    }

    /// One baseline of the MSP.
    package func baseline(_ id: BaselineID, of msp: MSPID, by caller: Caller) async throws -> StoredBaseline {
        try await database.withMSP(msp, logger: caller.logger) { tx in try await tx.baselines.get(msp, id: id) }
    }

    /// Creates a baseline from `document`; no tenant has it yet, so no device is hinted.
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)``, ``BaselineError/duplicateName(_:)``.
    package func createBaseline(of msp: MSPID, from document: Data, by caller: Caller) async throws -> StoredBaseline {
        let baseline = try BaselineDocuments.baseline(from: document, id: .random())
        let now = now()
        do {
            return try await database.withMSP(msp, logger: caller.logger) { tx in
                let created = try await tx.baselines.create(msp, baseline, now: now)
                try await tx.audit.record(
                    "baseline.created", on: ("baseline", baseline.id.description), after: created.auditSnapshot,
                    by: caller, at: now, in: .msp(msp)
                )
                return created
            }
        } catch StoreError.alreadyExists {
            throw BaselineError.duplicateName(baseline.name)
        }
    }

    /// Replaces a baseline with `document`, when it is still at `expectedVersion` (any when `nil`), and hints
    /// the devices of every assigned tenant whose policy changes.
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)``, ``BaselineError/duplicateName(_:)``;
    ///   `StoreError.notFound`, `StoreError.versionMismatch`.
    package func replaceBaseline(
        _ id: BaselineID, of msp: MSPID, with document: Data, expectedVersion: Int64?, by caller: Caller
    ) async throws -> StoredBaseline {
        let baseline = try BaselineDocuments.baseline(from: document, id: id)
        do {
            return try await change(id, of: msp, action: "baseline.updated", by: caller) { tx, now in
                try await tx.baselines.update(msp, baseline, expectedVersion: expectedVersion, now: now)
            }
        } catch StoreError.alreadyExists {
            throw BaselineError.duplicateName(baseline.name)
        }
    }

    /// Appends one entry to a baseline's library of pre-approved applications, when the baseline is still at
    /// `expectedVersion` (any when `nil`): a new version, audited and hinted like any edit.
    ///
    /// - Throws: ``BaselineError/alreadyInLibrary(fileName:)``, ``BaselineError/libraryFull``;
    ///   `StoreError.notFound`, `StoreError.versionMismatch`.
    package func addToLibrary(
        _ entry: Settings.PreApprovedApplication, of id: BaselineID, msp: MSPID, expectedVersion: Int64?,
        by caller: Caller
    ) async throws -> StoredBaseline {
        let now = now()
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            try await Self.addToLibrary(
                entry, of: id, msp: msp, expectedVersion: expectedVersion, in: tx, at: now, by: caller
            )
        }
    }

    /// ``addToLibrary(_:of:msp:expectedVersion:by:)`` in a transaction of the caller's that has the MSP and no
    /// tenant selected: the write behind "approve and add to a baseline's library", in the approval's
    /// transaction.
    package static func addToLibrary(
        _ entry: Settings.PreApprovedApplication, of id: BaselineID, msp: MSPID, expectedVersion: Int64?,
        in tx: Transaction, at now: Date, by caller: Caller
    ) async throws -> StoredBaseline {
        try await change(id, of: msp, action: "baseline.library.added", in: tx, at: now, by: caller) { tx, now in
            var baseline = try await tx.baselines.get(msp, id: id, forUpdate: true).baseline
            // The same application, whatever id either has: an entry's id only names it within its list.
            var content = entry
            content.id = nil
            guard !baseline.library.contains(where: { var other = $0; other.id = nil; return other == content }) else {
                throw BaselineError.alreadyInLibrary(fileName: entry.fileName)
            }
            guard baseline.library.count < Settings.PreApprovedApplication.maximumCount else {
                throw BaselineError.libraryFull
            }
            // An entry without an id gets the one the stored library would derive for it.
            baseline.library = Settings.PreApprovedApplication.withIDs(baseline.library + [entry])
            return try await tx.baselines.update(msp, baseline, expectedVersion: expectedVersion, now: now)
        }
    }

    /// A baseline's library, each entry with its id, and the baseline's version.
    package func library(of id: BaselineID, msp: MSPID, by caller: Caller) async throws -> PreApprovedEntries {
        let stored = try await baseline(id, of: msp, by: caller)
        return PreApprovedEntries(entries: stored.baseline.library, version: stored.version, isInherited: false)
    }

    /// Applies `edit` to a baseline's library, when the baseline is still at `expectedVersion` (any when `nil`):
    /// `baseline.updated` with the baseline before and after, and hinted, as a `PUT` of the whole baseline.
    ///
    /// - Throws: ``PolicyError`` for an edit that does not fit the library; `StoreError.notFound`,
    ///   `StoreError.versionMismatch`.
    package func editLibrary(
        of id: BaselineID, msp: MSPID, _ edit: PreApprovedEdit, expectedVersion: Int64?, by caller: Caller
    ) async throws -> PreApprovedEntry {
        var outcome: PreApprovedEdit.Outcome?
        let stored = try await change(id, of: msp, action: "baseline.updated", by: caller) { tx, now in
            var baseline = try await tx.baselines.get(msp, id: id, forUpdate: true).baseline
            outcome = try edit.apply(to: &baseline.library)
            return try await tx.baselines.update(msp, baseline, expectedVersion: expectedVersion, now: now)
        }
        // `change` ran the edit or threw.
        return PreApprovedEntry(entry: outcome!.entry, version: stored.version)
    }

    /// Deletes a baseline no tenant has assigned, when it is still at `expectedVersion` (any when `nil`).
    ///
    /// - Throws: ``BaselineError/stillAssigned(tenants:)``; `StoreError.notFound`, `StoreError.versionMismatch`.
    package func deleteBaseline(
        _ id: BaselineID, of msp: MSPID, expectedVersion: Int64?, by caller: Caller
    ) async throws {
        let now = now()
        try await database.withMSP(msp, logger: caller.logger) { tx in
            // The row lock first: an assignment being written holds its key share until it commits.
            _ = try await tx.baselines.get(msp, id: id, forUpdate: true)
            let tenants = try await tx.baselines.tenants(assignedTo: id, of: msp)
            guard tenants.isEmpty else { throw BaselineError.stillAssigned(tenants: tenants.count) }
            let before = try await tx.baselines.delete(msp, id: id, expectedVersion: expectedVersion)
            try await tx.audit.record(
                "baseline.deleted", on: ("baseline", id.description), before: before.auditSnapshot, by: caller,
                at: now, in: .msp(msp)
            )
        }
    }

    /// Runs `write` on a baseline in an MSP transaction, audits it on the MSP's chain, and for every tenant
    /// that has the baseline assigned hints the devices whose policy changed and audits `baseline.applied`.
    ///
    /// Each tenant is read once, after the write: its policy before is the same read with the baseline as it
    /// was (the locked row is the only thing this transaction changed), so both are composed from one read.
    private func change(
        _ id: BaselineID, of msp: MSPID, action: String, by caller: Caller,
        _ write: (Transaction, Date) async throws -> (before: StoredBaseline, after: StoredBaseline)
    ) async throws -> StoredBaseline {
        let now = now()
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            try await Self.change(id, of: msp, action: action, in: tx, at: now, by: caller, write)
        }
    }

    /// ``change(_:of:action:by:_:)`` in a transaction of the caller's, with the MSP and no tenant selected.
    static func change(
        _ id: BaselineID, of msp: MSPID, action: String, in tx: Transaction, at now: Date, by caller: Caller,
        _ write: (Transaction, Date) async throws -> (before: StoredBaseline, after: StoredBaseline)
    ) async throws -> StoredBaseline {
        // Locking the baseline first makes the list of tenants below final: assigning it takes a key share
        // lock on the same row.
        _ = try await tx.baselines.get(msp, id: id, forUpdate: true)
        let tenants = try await tx.baselines.tenants(assignedTo: id, of: msp)
        let (old, new) = try await write(tx, now)
        try await tx.audit.record(
            action, on: ("baseline", id.description), before: old.auditSnapshot, after: new.auditSnapshot,
            by: caller, at: now, in: .msp(msp)
        )
        // The assignments are MSP-level rows: one statement for every tenant's.
        let assigned = try await tx.baselines.assigned(to: tenants)
        try await Self.apply((old, new), to: tenants, assigned: assigned, by: caller, at: now, in: tx)
        return new
    }

    // MARK: - Assignment

    /// The baselines assigned to a tenant, in assignment order.
    package func assigned(to tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> [StoredBaseline] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.baselines.assigned(to: tenant)
        }
    }

    /// Replaces a tenant's assigned baselines with `ids`, in this order, and hints the devices whose policy
    /// changes.
    ///
    /// - Throws: ``BaselineError/tooManyAssigned(_:)``, ``BaselineError/duplicateAssignment(_:index:)``,
    ///   ``BaselineError/unknownBaseline(_:index:)``; `StoreError.notFound` for a tenant the MSP does not have.
    package func assign(
        _ ids: [BaselineID], to tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> [StoredBaseline] {
        guard ids.count <= Baseline.maximumAssigned else { throw BaselineError.tooManyAssigned(ids.count) }
        var seen: Set<BaselineID> = []
        for (index, id) in ids.enumerated() {
            guard seen.insert(id).inserted else { throw BaselineError.duplicateAssignment(id, index: index) }
        }
        let now = now()
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            guard try await tx.tenants.exists(tenant) else { throw StoreError.notFound }
            for (index, id) in ids.enumerated() {
                do {
                    _ = try await tx.baselines.get(msp, id: id)
                } catch StoreError.notFound {
                    throw BaselineError.unknownBaseline(id, index: index)
                }
            }
            return try await tx.withinTenant(tenant) { tx in
                let before = try await PolicyChanges.snapshot(of: tenant, in: tx)
                let previous = try await tx.baselines.assign(ids, to: tenant, of: msp)
                try await tx.audit.record(
                    "baselines.assigned", on: ("baselines", tenant.description),
                    before: StoredBaseline.assignmentSnapshot(previous), after: StoredBaseline.assignmentSnapshot(ids),
                    by: caller, at: now, in: .tenant(tenant)
                )
                try await PolicyChanges.publish(of: tenant, from: before, in: tx)
                return try await tx.baselines.assigned(to: tenant)
            }
        }
    }

    /// Where a tenant departs from its baselines: the sections it sets itself that an assigned baseline sets
    /// too (with both values), and baseline subsettings whose scopes do not resolve in its directory.
    package func drift(of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> PolicyComposition {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await ComposedPolicy.load(of: tenant, in: tx)
        }
    }
}
