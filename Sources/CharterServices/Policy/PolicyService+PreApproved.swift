package import CharterCore
package import CharterJSON
package import CharterStore
package import Foundation

extension PolicyService {
    /// One pre-approved entry of the global settings, with the settings' version (the resource's ETag).
    package struct PreApprovedEntry: Sendable {
        package var entry: Settings.PreApprovedApplication
        package var settingsVersion: Int64
    }

    /// The global settings' pre-approved applications, each with its id, and the settings' version.
    package func preApprovedApplications(
        of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> (entries: [Settings.PreApprovedApplication], settingsVersion: Int64) {
        let stored = try await settings(of: tenant, msp: msp, by: caller)
        return (stored.settings.preApprovedApplications, stored.version)
    }

    /// One pre-approved application of the global settings.
    ///
    /// - Throws: ``PolicyError/unknownPreApprovedEntry``.
    package func preApprovedApplication(
        _ id: UUID, of tenant: TenantID, msp: MSPID, by caller: Caller
    ) async throws -> PreApprovedEntry {
        let stored = try await settings(of: tenant, msp: msp, by: caller)
        guard let entry = stored.settings.preApprovedApplications.first(where: { $0.id == id }) else {
            throw PolicyError.unknownPreApprovedEntry
        }
        return PreApprovedEntry(entry: entry, settingsVersion: stored.version)
    }

    /// Appends the entry of `body` to the global settings' list, when they are still at `expectedVersion`.
    ///
    /// The entry gets a random id unless the body names one no other entry has.
    ///
    /// - Throws: ``PolicyError`` for an invalid entry, a taken id or a full list; `StoreError.versionMismatch`.
    package func createPreApprovedApplication(
        of tenant: TenantID, msp: MSPID, from body: Data, expectedVersion: Int64?, by caller: Caller
    ) async throws -> PreApprovedEntry {
        var entry = try PolicyDocuments.preApprovedEntry(from: body)
        let id = entry.id ?? UUID()
        entry.id = id
        return try await edit(tenant, msp: msp, expectedVersion: expectedVersion, by: caller) { list in
            guard !list.contains(where: { $0.id == id }) else { throw PolicyError.preApprovedIDTaken(id) }
            guard list.count < Settings.PreApprovedApplication.maximumCount else {
                throw PolicyError.preApprovedListFull
            }
            list.append(entry)
            return ("pre_approved_application.created", entry, nil, entry)
        }
    }

    /// Replaces one entry of the global settings' list with the entry of `body`, keeping its id and place.
    ///
    /// - Throws: ``PolicyError`` for an invalid entry, an id in the body that is not `id`, or an unknown entry;
    ///   `StoreError.versionMismatch`.
    package func replacePreApprovedApplication(
        _ id: UUID, of tenant: TenantID, msp: MSPID, with body: Data, expectedVersion: Int64?, by caller: Caller
    ) async throws -> PreApprovedEntry {
        var entry = try PolicyDocuments.preApprovedEntry(from: body)
        if let given = entry.id, given != id { throw PolicyError.preApprovedIDMismatch }
        entry.id = id
        return try await edit(tenant, msp: msp, expectedVersion: expectedVersion, by: caller) { list in
            guard let index = list.firstIndex(where: { $0.id == id }) else { throw PolicyError.unknownPreApprovedEntry }
            let before = list[index]
            list[index] = entry
            return ("pre_approved_application.replaced", entry, before, entry)
        }
    }

    /// Removes one entry from the global settings' list.
    ///
    /// - Throws: ``PolicyError/unknownPreApprovedEntry``; `StoreError.versionMismatch`.
    package func deletePreApprovedApplication(
        _ id: UUID, of tenant: TenantID, msp: MSPID, expectedVersion: Int64?, by caller: Caller
    ) async throws {
        _ = try await edit(tenant, msp: msp, expectedVersion: expectedVersion, by: caller) { list in
            guard let index = list.firstIndex(where: { $0.id == id }) else { throw PolicyError.unknownPreApprovedEntry }
            let before = list.remove(at: index)
            return ("pre_approved_application.deleted", before, before, nil)
        }
    }

    /// One change of the global list in one transaction: read under a row lock, change, store if still at
    /// `expectedVersion`, audit the entry before and after, hint the devices whose policy changed.
    ///
    /// `change` edits the list and returns the audit action, the entry to answer with (which has an id), and the
    /// entry before and after.
    private func edit(
        _ tenant: TenantID, msp: MSPID, expectedVersion: Int64?, by caller: Caller,
        _ change: (inout [Settings.PreApprovedApplication]) throws -> (
            action: String, entry: Settings.PreApprovedApplication, before: Settings.PreApprovedApplication?,
            after: Settings.PreApprovedApplication?
        )
    ) async throws -> PreApprovedEntry {
        let now = now()
        return try await database.withTenant(tenant, msp: msp, logger: caller.logger) { tx in
            let current = try await tx.settings.get(tenant, forUpdate: true)
            if let expectedVersion, expectedVersion != current.version {
                throw StoreError.versionMismatch(current: current.version)
            }
            var settings = current.settings
            let (action, entry, before, after) = try change(&settings.preApprovedApplications)
            let policyBefore = try await PolicyChanges.snapshot(of: tenant, in: tx)
            let (_, stored) = try await tx.settings.replace(
                tenant, with: settings, sections: current.sections.union([.preApprovedApplications]),
                expectedVersion: current.version, by: caller.actor, at: now
            )
            try await tx.audit.record(
                action, on: ("pre_approved_application", entry.id?.uuidString.lowercased() ?? ""),
                before: before.map { Self.entrySnapshot($0, version: current.version) },
                after: after.map { Self.entrySnapshot($0, version: stored.version) }, by: caller, at: now,
                in: .tenant(tenant)
            )
            try await PolicyChanges.publish(of: tenant, from: policyBefore, in: tx)
            return PreApprovedEntry(entry: entry, settingsVersion: stored.version)
        }
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
