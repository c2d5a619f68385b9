package import CharterCore
package import CharterJSON
package import CharterStore
package import Foundation

/// A tenant's policy: its global settings, its subsettings in priority order, and the effective policy they
/// give a user on a computer.
///
/// Every change is one transaction that validates the document (Core's decoder, the scope against the synced
/// directory), stores it, audits it on the tenant's chain and, last, appends a `bundle` hint for the devices
/// whose policy it changes (``PolicyChanges``). Authorisation is the caller's.
package struct PolicyService: Sendable {
    let database: Database
    /// The clock; tests may pin it.
    let now: @Sendable () -> Date

    package init(database: Database, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.now = now
    }

    // MARK: - Global settings

    /// The tenant's global settings.
    package func settings(of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> StoredSettings {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.settings.get(tenant)
        }
    }

    /// Replaces the global settings with `document`, when they are still at `expectedVersion` (any when `nil`).
    ///
    /// - Throws: ``PolicyError/invalidDocument(_:of:)``; `StoreError.versionMismatch` for a stale version.
    package func replaceSettings(
        of tenant: TenantID, msp: MSPID, with document: Data, expectedVersion: Int64?, by caller: Caller
    ) async throws -> StoredSettings {
        let (settings, sections) = try PolicyDocuments.settings(from: document)
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let (before, after) = try await tx.settings.replace(
                tenant, with: settings, sections: sections, expectedVersion: expectedVersion, by: caller.actor, at: now
            )
            try await tx.audit.record(
                "settings.replaced", on: ("settings", tenant.description), before: before.auditSnapshot,
                after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return after
        }
    }

    // MARK: - Subsettings

    /// The tenant's subsettings in priority order.
    package func subsettings(of tenant: TenantID, msp: MSPID, by caller: Caller) async throws -> [StoredSubsetting] {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.subsettings.list(tenant)
        }
    }

    /// One subsetting.
    package func subsetting(
        _ id: SubsettingID, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> StoredSubsetting {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await tx.subsettings.get(tenant, id: id)
        }
    }

    /// Creates a subsetting from `document` at `position` (the end when `nil`).
    ///
    /// - Throws: ``PolicyError`` for an invalid document, an unknown scope object or a position past the end.
    package func createSubsetting(
        of tenant: TenantID, msp: MSPID, from document: Data, at position: Int?, by caller: Caller
    ) async throws -> StoredSubsetting {
        let id = SubsettingID.random()
        let (subsetting, parsed) = try PolicyDocuments.subsetting(from: document, id: id)
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await ScopeCheck.requireKnown(subsetting.scope, document: parsed, tenant: tenant, tx: tx)
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let created: StoredSubsetting
            do {
                created = try await tx.subsettings.create(tenant, subsetting, at: position, now: now)
            } catch PolicyStoreError.positionOutOfRange(_, let maximum) {
                throw PolicyError.positionOutOfRange(maximum: maximum)
            }
            try await tx.audit.record(
                "subsetting.created", on: ("subsetting", id.description), after: created.auditSnapshot, by: caller,
                at: now, in: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return created
        }
    }

    /// Replaces a subsetting with `document`, when it is still at `expectedVersion` (any when `nil`).
    package func replaceSubsetting(
        _ id: SubsettingID, of tenant: TenantID, msp: MSPID, with document: Data, expectedVersion: Int64?,
        by caller: Caller
    ) async throws -> StoredSubsetting {
        let (subsetting, parsed) = try PolicyDocuments.subsetting(from: document, id: id)
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await ScopeCheck.requireKnown(subsetting.scope, document: parsed, tenant: tenant, tx: tx)
            return try await update(tenant, to: subsetting, expectedVersion: expectedVersion, by: caller, in: tx)
        }
    }

    /// Patches a subsetting with the top-level members of `patch`, when it is still at `expectedVersion`.
    package func updateSubsetting(
        _ id: SubsettingID, of tenant: TenantID, msp: MSPID, patch: Data, expectedVersion: Int64?, by caller: Caller
    ) async throws -> StoredSubsetting {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let current = try await tx.subsettings.get(tenant, id: id, forUpdate: true)
            let (subsetting, parsed) = try PolicyDocuments.subsetting(from: patch, id: id, patching: current.subsetting)
            try await ScopeCheck.requireKnown(subsetting.scope, document: parsed, tenant: tenant, tx: tx)
            return try await update(tenant, to: subsetting, expectedVersion: expectedVersion, by: caller, in: tx)
        }
    }

    /// Stores an edited subsetting, audits it and hints the devices it reaches, in the caller's transaction.
    func update(
        _ tenant: TenantID, to subsetting: Subsetting, expectedVersion: Int64?, by caller: Caller, in tx: Transaction
    ) async throws -> StoredSubsetting {
        let now = now()
        let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
        let (before, after) = try await tx.subsettings.update(
            tenant, subsetting, expectedVersion: expectedVersion, now: now
        )
        try await tx.audit.record(
            "subsetting.updated", on: ("subsetting", subsetting.id.description), before: before.auditSnapshot,
            after: after.auditSnapshot, by: caller, at: now, in: .tenant(tenant)
        )
        try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
        return after
    }

    /// Deletes a subsetting, when it is still at `expectedVersion` (any when `nil`).
    package func deleteSubsetting(
        _ id: SubsettingID, of tenant: TenantID, msp: MSPID, expectedVersion: Int64?, by caller: Caller
    ) async throws {
        let now = now()
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let before = try await tx.subsettings.delete(tenant, id: id, expectedVersion: expectedVersion)
            try await tx.audit.record(
                "subsetting.deleted", on: ("subsetting", id.description), before: before.auditSnapshot, by: caller,
                at: now, in: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
        }
    }

    /// Puts the subsettings in the order of `ids`, which names each of them exactly once.
    ///
    /// - Throws: ``PolicyError/orderMismatch(_:)``.
    package func reorderSubsettings(
        of tenant: TenantID, msp: MSPID, to ids: [SubsettingID], by caller: Caller
    ) async throws -> [StoredSubsetting] {
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let before: [StoredSubsetting]
            let after: [StoredSubsetting]
            do {
                (before, after) = try await tx.subsettings.reorder(tenant, to: ids)
            } catch PolicyStoreError.orderMismatch(let mismatch) {
                throw PolicyError.orderMismatch(mismatch)
            }
            try await tx.audit.record(
                "subsettings.reordered", on: ("subsettings", tenant.description),
                before: StoredSubsetting.orderSnapshot(before), after: StoredSubsetting.orderSnapshot(after),
                by: caller, at: now, in: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return after
        }
    }

    // MARK: - Effective policy

    /// The effective policy of `user` on `computer` (either may be unknown) and why.
    ///
    /// - Throws: ``PolicyError/notInDirectory(field:_:)`` for an object the tenant's directory does not have.
    package func explain(
        user: ObjectGUID?, computer: ObjectGUID?, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> ComposedExplanation {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            try await EffectivePolicyLookup.explain(user: user, computer: computer, of: tenant, in: tx)
        }
    }
}

extension StoredSettings {
    /// What the audit log keeps of the settings: the version, the whole document and the sections the tenant set.
    package var auditSnapshot: String {
        let document = JSONValue.object([
            "version": .integer(Int64(version)), "document": settings.json,
            "sections": .array(sections.sorted().map { .string($0.rawValue) }),
        ])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }
}

extension StoredSubsetting {
    /// What the audit log keeps of a subsetting: id, priority, version and the whole document.
    package var auditSnapshot: String {
        let document = JSONValue.object([
            "id": .string(subsetting.id.description),
            "priority": .integer(Int64(priority)),
            "version": .integer(Int64(version)),
            "document": subsetting.json,
        ])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }

    /// What the audit log keeps of a reorder: the ids in order.
    package static func orderSnapshot(_ list: [StoredSubsetting]) -> String {
        let document = JSONValue.object(["order": .array(list.map { .string($0.subsetting.id.description) })])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }
}
