package import CharterCore
package import CharterStore

/// Which computers' effective policies a change of a tenant's settings or subsettings changes.
///
/// The endpoint issue pushes new bundles to exactly these devices. Until devices exist, the devices are the
/// computers of the tenant's synced directory, each with no known users (so each has one policy: the
/// computer alone, which is also the default for an unknown user on it). Core's ``PolicyChange`` decides,
/// resolving again only the computers a change can reach.
package enum PolicyChanges {
    /// A tenant's policy at one moment: the global settings and the subsettings in priority order.
    package struct Snapshot: Hashable, Sendable {
        package var global: Settings
        package var subsettings: [Subsetting]

        package init(global: Settings, subsettings: [Subsetting]) {
            self.global = global
            self.subsettings = subsettings
        }
    }

    /// The tenant's current policy, read in `tx`.
    package static func snapshot(of tenant: TenantID, in tx: Transaction) async throws -> Snapshot {
        Snapshot(
            global: try await tx.settings.get(tenant).settings,
            subsettings: try await tx.subsettings.list(tenant).map(\.subsetting)
        )
    }

    /// The computers whose effective policy differs between `before` and `after`, over the directory as it is
    /// in `tx`.
    ///
    /// - Returns: objectGUIDs of the affected computers, in GUID order.
    package static func affectedComputers(
        of tenant: TenantID,
        from before: Snapshot,
        to after: Snapshot,
        in tx: Transaction
    ) async throws -> [ObjectGUID] {
        let facts = try await tx.policyFacts.allFacts(in: tenant)
        let devices = try await tx.policyFacts.computers(in: tenant).map {
            ManagedDevice(id: $0, computer: $0, users: [])
        }
        let change = PolicyChange(
            before: PolicyInputs(global: before.global, subsettings: before.subsettings, facts: facts),
            after: PolicyInputs(global: after.global, subsettings: after.subsettings, facts: facts)
        )
        return change.changedDevices(among: devices)
    }
}
