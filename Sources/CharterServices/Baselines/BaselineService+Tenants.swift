import CharterCore
import CharterJSON
import CharterStore
import Foundation

extension BaselineService {
    /// Works out, for every tenant that has the edited baseline assigned, which devices the edit reaches, then
    /// audits `baseline.applied` on each tenant's chain and appends one `bundle` hint per reached tenant.
    ///
    /// A handful of statements for all the tenants, whatever their number (``TenantBatchRepository``): each
    /// table's rows of every tenant are read in one, composed here with the baseline as it was and as it is
    /// (the locked row is the only thing the transaction changed, so "before" comes from the same read), and the
    /// audit events and feed entries are written in one batch each.
    ///
    /// - Parameters:
    ///   - tenants: The tenants that have the baseline assigned, in id order (the chains' lock order).
    ///   - assigned: Each tenant's assigned baselines, in order, after the write.
    ///   - edited: The baseline as it was and as it is.
    /// - Throws: `StoreError.notFound` when a tenant is not a live tenant of the transaction's MSP.
    static func apply(
        _ edited: (before: StoredBaseline, after: StoredBaseline), to tenants: [TenantID],
        assigned: [TenantID: [StoredBaseline]], by caller: Caller, at now: Date, in tx: Transaction
    ) async throws {
        guard !tenants.isEmpty else { return }
        // Every batch statement below starts with `enter_tenant_batch`, which refuses a tenant that is not a live
        // tenant of the transaction's MSP (`StoreError.notFound`), before any row is read or written.
        let hints = try await hints(of: tenants, assigned: assigned, edited: edited.before.baseline, in: tx)
        let id = edited.after.baseline.id
        try await tx.audit.record(
            "baseline.applied", on: ("baseline", id.description),
            after: tenants.map { tenant in
                let applied = JSONValue.object([
                    "baseline": .string(id.description), "version": .integer(edited.after.version),
                    "devices_hinted": .integer(Int64(hints[tenant]?.count ?? 0)),
                ])
                return (tenant: tenant, snapshot: String(decoding: applied.canonicalData, as: UTF8.self))
            },
            by: caller, at: now
        )
        try await tx.changeFeed.append(
            tenants.compactMap { tenant in hints[tenant].map { (tenant: tenant, devices: $0.devices) } }, event: .bundle,
            data: PolicyChanges.Hint.data
        )
    }

    /// The hint each tenant's devices deserve when `old` becomes its assigned version; no entry for a tenant
    /// whose devices it does not reach.
    private static func hints(
        of tenants: [TenantID], assigned: [TenantID: [StoredBaseline]], edited old: Baseline, in tx: Transaction
    ) async throws -> [TenantID: PolicyChanges.Hint] {
        let batch = tx.batch(tenants)
        let settings = try await batch.settings()
        let subsettings = try await batch.subsettings()
        let after = assigned.mapValues { $0.map(\.baseline) }
        // Every tenant is asked about the scopes of every baseline involved: a name no scope of a tenant uses
        // is never looked up in its directory.
        var distinct = [old.id: old]
        for baseline in after.values.joined() { distinct[baseline.id] = baseline }
        let directories = try await batch.scopeDirectories(for: distinct.values.flatMap { $0.subsettings.map(\.scope) })
        var snapshots: [TenantID: (before: PolicyChanges.Snapshot, after: PolicyChanges.Snapshot)] = [:]
        for tenant in tenants {
            let stored = settings[tenant] ?? .defaults
            let own = (subsettings[tenant] ?? []).map(\.subsetting)
            func snapshot(_ baselines: [Baseline]) -> PolicyChanges.Snapshot {
                let composition = PolicyComposition(
                    settings: stored.settings, setSections: stored.sections, subsettings: own, baselines: baselines,
                    directory: directories[tenant] ?? ScopeDirectory()
                )
                return PolicyChanges.Snapshot(global: composition.global, subsettings: composition.subsettings)
            }
            let baselines = after[tenant] ?? []
            let before = snapshot(baselines.map { $0.id == old.id ? old : $0 })
            let after = snapshot(baselines)
            if before != after { snapshots[tenant] = (before: before, after: after) }
        }
        // As `PolicyChanges.hint`: a change of the global settings that reaches every policy a device can have,
        // or none, costs a count, not a resolution of every device before and after.
        var everyDevice: [TenantID] = []
        var resolved: [TenantID] = []
        for tenant in tenants {
            guard let snapshot = snapshots[tenant] else { continue }
            switch PolicyChange.reachesEveryDevice(
                from: snapshot.before.global, to: snapshot.after.global, before: snapshot.before.subsettings,
                after: snapshot.after.subsettings
            ) {
            case true?: everyDevice.append(tenant)
            case false?: continue
            case nil: resolved.append(tenant)
            }
        }
        var hints: [TenantID: PolicyChanges.Hint] = [:]
        if !everyDevice.isEmpty {
            for (tenant, count) in try await tx.batch(everyDevice).managedDeviceCounts() {
                hints[tenant] = PolicyChanges.Hint(everyDeviceOf: count)
            }
        }
        guard !resolved.isEmpty else { return hints }
        let devices = try await tx.batch(resolved).managedDevices()
        let facts = try await tx.batch(resolved).facts(about: devices.mapValues(PolicyChanges.objects(of:)))
        for tenant in resolved {
            guard let snapshot = snapshots[tenant], let devices = devices[tenant] else { continue }
            let affected = PolicyChanges.affected(
                among: devices, facts: facts[tenant] ?? DirectoryFacts(closureRows: [], parents: [:]),
                from: snapshot.before, to: snapshot.after
            )
            hints[tenant] = PolicyChanges.Hint(affected: affected, of: devices)
        }
        return hints
    }
}
