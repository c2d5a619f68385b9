package import CharterCore
package import CharterStore

/// Which enrolled devices a change of a tenant's settings or subsettings reaches, and the change-feed entry
/// that sends them a `bundle` hint. Core's ``PolicyChange`` decides, resolving again only the devices a
/// change can reach.
package enum PolicyChanges {
    /// A tenant's policy at one moment, its baselines folded in (``ComposedPolicy``): the combined global
    /// settings and the combined subsettings in priority order.
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
        let composition = try await ComposedPolicy.load(of: tenant, in: tx)
        return Snapshot(global: composition.global, subsettings: composition.subsettings)
    }

    /// The devices among `devices` whose policies differ between `before` and `after`, over the directory as
    /// it is in `tx`, in the order given.
    package static func affected<ID>(
        among devices: [ManagedDevice<ID>],
        of tenant: TenantID,
        from before: Snapshot,
        to after: Snapshot,
        in tx: Transaction
    ) async throws -> [ID] {
        guard !devices.isEmpty, before != after else { return [] }
        let facts = try await tx.policyFacts.facts(about: objects(of: devices), in: tenant)
        return affected(among: devices, facts: facts, from: before, to: after)
    }

    /// The directory objects whose facts deciding `devices`' policies needs: their computers and users.
    package static func objects<ID>(of devices: [ManagedDevice<ID>]) -> [ObjectGUID] {
        Array(Set(devices.flatMap { device in (device.computer.map { [$0] } ?? []) + device.users }))
    }

    /// The devices among `devices` whose policies differ between `before` and `after` over `facts` (about
    /// ``objects(of:)``), in the order given.
    package static func affected<ID>(
        among devices: [ManagedDevice<ID>], facts: DirectoryFacts, from before: Snapshot, to after: Snapshot
    ) -> [ID] {
        guard !devices.isEmpty, before != after else { return [] }
        let change = PolicyChange(
            before: PolicyInputs(global: before.global, subsettings: before.subsettings, facts: facts),
            after: PolicyInputs(global: after.global, subsettings: after.subsettings, facts: facts)
        )
        return change.changedDevices(among: devices)
    }

    /// Appends a `bundle` hint for the tenant's enrolled devices whose policies the change from `before` to
    /// the policy now in `tx` reaches: one change-feed entry for the tenant, never one per device. Call it last
    /// in the transaction that made the change.
    ///
    /// - Returns: How many devices the hint reaches.
    @discardableResult
    package static func publish(of tenant: TenantID, from before: Snapshot, in tx: Transaction) async throws -> Int {
        try await publish(of: tenant, from: before, to: try await snapshot(of: tenant, in: tx), in: tx)
    }

    /// Appends a `bundle` hint for the tenant's enrolled devices whose policies differ between `before` and
    /// `after`, both worked out by the caller: one change-feed entry for the tenant, never one per device.
    ///
    /// - Returns: How many devices the hint reaches.
    @discardableResult
    package static func publish(
        of tenant: TenantID, from before: Snapshot, to after: Snapshot, in tx: Transaction
    ) async throws -> Int {
        guard let hint = try await hint(of: tenant, from: before, to: after, in: tx) else { return 0 }
        try await tx.changeFeed.append(tenant, event: .bundle, devices: hint.devices, data: Hint.data)
        return hint.count
    }

    /// The `bundle` hint a change of the tenant's policy deserves: which enrolled devices it reaches.
    package struct Hint: Hashable, Sendable {
        /// The change-feed entry's data.
        package static let data = #"{"reason":"policy"}"#
        /// The devices the entry names; `nil` when the change reaches every device (one tenant-wide entry, not
        /// a list of them all for every replica to read).
        package var devices: [DeviceID]?
        /// How many devices it reaches.
        package var count: Int

        /// The hint that reaches `affected` among a tenant's `devices`; `nil` when it reaches none.
        package init?(affected: [DeviceID], of devices: [ManagedDevice<DeviceID>]) {
            guard !affected.isEmpty else { return nil }
            self.devices = affected.count == devices.count ? nil : affected
            self.count = affected.count
        }

        /// The hint that reaches every one of a tenant's `count` devices; `nil` when it has none.
        package init?(everyDeviceOf count: Int) {
            guard count > 0 else { return nil }
            self.devices = nil
            self.count = count
        }
    }

    /// The hint for the tenant's enrolled devices whose policies differ between `before` and `after`, without
    /// appending it. A change of the global settings that reaches every policy a device can have, or none, is
    /// decided without reading the devices (``PolicyChange/reachesEveryDevice(from:to:before:after:)``): a
    /// global setting no subsetting overrides, the common case, costs a count instead of a resolution of every
    /// device before and after.
    ///
    /// - Returns: `nil` when no device is reached.
    package static func hint(
        of tenant: TenantID, from before: Snapshot, to after: Snapshot, in tx: Transaction
    ) async throws -> Hint? {
        guard before != after else { return nil }
        if let everyDevice = PolicyChange.reachesEveryDevice(
            from: before.global, to: after.global, before: before.subsettings, after: after.subsettings
        ) {
            guard everyDevice else { return nil }
            return Hint(everyDeviceOf: try await tx.devices.managedCount(tenant))
        }
        let devices = try await tx.devices.managed(tenant)
        return Hint(
            affected: try await affected(among: devices, of: tenant, from: before, to: after, in: tx), of: devices
        )
    }
}
