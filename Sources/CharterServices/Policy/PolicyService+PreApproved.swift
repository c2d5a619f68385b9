package import CharterCore
package import CharterJSON
package import CharterStore
package import Foundation

extension PolicyService {
    /// A list of pre-approved applications a tenant owns: the global settings' or a subsetting's.
    package enum PreApprovedList: Sendable, Hashable {
        case settings
        case subsetting(SubsettingID)
    }

    /// The entries of `list`, each with its id, and the owning document's version. A subsetting without a list of
    /// its own answers the global list it inherits (the tenant's entries and its baselines' libraries), marked so.
    ///
    /// - Throws: `StoreError.notFound` for a subsetting the tenant does not have.
    package func preApprovedApplications(
        in list: PreApprovedList, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> PreApprovedEntries {
        try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            switch list {
            case .settings:
                let stored = try await tx.settings.get(tenant)
                return PreApprovedEntries(
                    entries: stored.settings.preApprovedApplications, version: stored.version, isInherited: false
                )
            case .subsetting(let id):
                let stored = try await tx.subsettings.get(tenant, id: id)
                let (entries, isInherited) = try await Self.list(of: stored.subsetting, in: tenant, tx: tx)
                return PreApprovedEntries(entries: entries, version: stored.version, isInherited: isInherited)
            }
        }
    }

    /// Applies `edit` to `list` in one transaction, when its document is still at `expectedVersion` (any when
    /// `nil`): read under a row lock, changed, stored, audited, and the devices whose policy changed hinted.
    ///
    /// The global list's edits are audited per entry (`pre_approved_application.created`, `.replaced`,
    /// `.deleted`, with the entry and the settings' version); a subsetting's as `subsetting.updated`, the whole
    /// subsetting before and after. A subsetting that inherits the global list gets a copy of it first.
    ///
    /// - Throws: ``PolicyError`` for an edit that does not fit the list; `StoreError.versionMismatch`,
    ///   `StoreError.notFound`.
    package func editPreApprovedApplications(
        in list: PreApprovedList, of tenant: TenantID, msp: MSPID, _ edit: PreApprovedEdit, expectedVersion: Int64?,
        by caller: Caller
    ) async throws -> PreApprovedEntry {
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            switch list {
            case .settings:
                return try await editSettings(tenant, edit, expectedVersion: expectedVersion, by: caller, in: tx, at: now)
            case .subsetting(let id):
                let current = try await tx.subsettings.get(tenant, id: id, forUpdate: true)
                if let expectedVersion, expectedVersion != current.version {
                    throw StoreError.versionMismatch(current: current.version)
                }
                var subsetting = current.subsetting
                var (entries, _) = try await Self.list(of: subsetting, in: tenant, tx: tx)
                let outcome = try edit.apply(to: &entries)
                subsetting.overrides.preApprovedApplications = entries
                let stored = try await update(tenant, to: subsetting, expectedVersion: current.version, by: caller, in: tx)
                return PreApprovedEntry(entry: outcome.entry, version: stored.version)
            }
        }
    }

    /// A subsetting's list: its own, or the global list it inherits as its members have it (the tenant's entries
    /// and its baselines' libraries), which a write copies, since an override replaces the global list.
    static func list(
        of subsetting: Subsetting, in tenant: TenantID, tx: Transaction
    ) async throws -> (entries: [Settings.PreApprovedApplication], isInherited: Bool) {
        if let own = subsetting.overrides.preApprovedApplications { return (own, false) }
        return (try await ComposedPolicy.load(of: tenant, in: tx).global.preApprovedApplications, true)
    }

    /// One edit of the global list in the caller's transaction, audited per entry.
    private func editSettings(
        _ tenant: TenantID, _ edit: PreApprovedEdit, expectedVersion: Int64?, by caller: Caller, in tx: Transaction,
        at now: Date
    ) async throws -> PreApprovedEntry {
        let current = try await tx.settings.get(tenant, forUpdate: true)
        if let expectedVersion, expectedVersion != current.version {
            throw StoreError.versionMismatch(current: current.version)
        }
        var settings = current.settings
        let outcome = try edit.apply(to: &settings.preApprovedApplications)
        let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
        let (_, stored) = try await tx.settings.replace(
            tenant, with: settings, sections: current.sections.union([.preApprovedApplications]),
            expectedVersion: current.version, by: caller.actor, at: now
        )
        try await tx.audit.record(
            outcome.action, on: ("pre_approved_application", outcome.entry.id?.uuidString.lowercased() ?? ""),
            before: outcome.before.map { Self.entrySnapshot($0, version: current.version) },
            after: outcome.after.map { Self.entrySnapshot($0, version: stored.version) }, by: caller, at: now,
            in: .tenant(tenant)
        )
        try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
        return PreApprovedEntry(entry: outcome.entry, version: stored.version)
    }

    /// What the audit log keeps of an entry: the settings' version and the entry.
    private static func entrySnapshot(_ entry: Settings.PreApprovedApplication, version: Int64) -> String {
        let document = JSONValue.object(["settings_version": .integer(version), "entry": entry.json])
        return String(decoding: document.canonicalData, as: UTF8.self)
    }
}

extension PolicyDocuments {
    /// One pre-approved entry, validated as an entry of a settings document, with pointers relative to it.
    package static func preApprovedEntry(from body: Data) throws(PolicyError) -> Settings.PreApprovedApplication {
        do throws(DocumentError) {
            return try Settings.PreApprovedApplication.decode(try JSONValue.parseDocument(body), at: JSONPointer())
        } catch {
            throw .invalidDocument(error, of: "pre-approved entry")
        }
    }

    /// Core's verdict on an entry body the generated decoder refused, as ``rejection(ofUndecodable:patch:settings:)``.
    package static func rejection(ofUndecodableEntry body: Data) -> PolicyError? {
        do {
            _ = try preApprovedEntry(from: body)
            return nil
        } catch {
            return error
        }
    }
}
