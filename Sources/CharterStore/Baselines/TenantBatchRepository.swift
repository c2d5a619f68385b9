package import CharterCore
package import Foundation
import PostgresNIO

/// What policy needs of many tenants of the MSP selected on the transaction, one statement per table for all of
/// them (migration 0025): for a write that changes many tenants' policy at once (a baseline edit).
///
/// Each statement is a SECURITY INVOKER function that selects each tenant in turn on the server, so row-level
/// security confines every row to its tenant exactly as ``Database/withTenant(_:msp:logger:_:)`` would; it
/// refuses a tenant that is not a live tenant of the transaction's MSP, and needs no tenant selected. A tenant
/// with no rows has an empty entry (its settings: ``StoredSettings/defaults``).
package struct TenantBatchRepository: Sendable {
    let tx: Transaction
    let tenants: [TenantID]

    private var ids: [UUID] { tenants.map(\.rawValue) }

    /// Each tenant's settings (``SettingsRepository/get(_:forUpdate:)`` for many).
    package func settings() async throws -> [TenantID: StoredSettings] {
        let rows = try await tx.query(
            """
            SELECT tenant_id, document, version, updated_at, updated_by, sections
            FROM charter_private.batch_settings(\(ids)::uuid[])
            """
        )
        var settings = Dictionary(uniqueKeysWithValues: tenants.map { ($0, StoredSettings.defaults) })
        for try await (tenant, document, version, updatedAt, updatedBy, sections) in rows.decode(
            (UUID, String, Int64, Date, String, [String]).self
        ) {
            let id = TenantID(tenant)
            settings[id] = try SettingsRepository.stored((document, version, updatedAt, updatedBy, sections), tenant: id)
        }
        return settings
    }

    /// Each tenant's subsettings in priority order (``SubsettingRepository/list(_:)`` for many).
    package func subsettings() async throws -> [TenantID: [StoredSubsetting]] {
        let rows = try await tx.query(
            """
            SELECT tenant_id, id, position, name, description, enabled, target, scope_groups, scope_ous, overrides,
                version, created_at, updated_at
            FROM charter_private.batch_subsettings(\(ids)::uuid[])
            """
        )
        var subsettings = Dictionary(uniqueKeysWithValues: tenants.map { ($0, [StoredSubsetting]()) })
        for try await row in rows.decode(
            (UUID, UUID, Int, String, String, Bool, String, [UUID], [UUID], String, Int64, Date, Date).self
        ) {
            let stored = try SubsettingRepository.stored(
                (row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10, row.11, row.12)
            )
            subsettings[TenantID(row.0), default: []].append(stored)
        }
        return subsettings
    }

    /// Each tenant's devices that are not revoked, as policy sees them (``DeviceRepository/managed(_:userRetention:)``
    /// for many).
    package func managedDevices(
        userRetention: TimeInterval = 90 * 86_400
    ) async throws -> [TenantID: [ManagedDevice<DeviceID>]] {
        let rows = try await tx.query(
            """
            SELECT tenant_id, id, computer_guid, users
            FROM charter_private.batch_managed_devices(\(ids)::uuid[], \(userRetention)::double precision)
            """
        )
        var devices = Dictionary(uniqueKeysWithValues: tenants.map { ($0, [ManagedDevice<DeviceID>]()) })
        for try await (tenant, id, computer, users) in rows.decode((UUID, UUID, UUID?, [UUID]).self) {
            devices[TenantID(tenant), default: []].append(
                ManagedDevice(
                    id: DeviceID(id), computer: computer.map(ObjectGUID.init), users: users.map(ObjectGUID.init).sorted()
                )
            )
        }
        return devices
    }

    /// Each tenant's number of devices that are not revoked (``DeviceRepository/managedCount(_:)`` for many).
    package func managedDeviceCounts() async throws -> [TenantID: Int] {
        let rows = try await tx.query(
            "SELECT tenant_id, devices FROM charter_private.batch_managed_device_counts(\(ids)::uuid[])"
        )
        var counts = Dictionary(uniqueKeysWithValues: tenants.map { ($0, 0) })
        for try await (tenant, count) in rows.decode((UUID, Int64).self) { counts[TenantID(tenant)] = Int(count) }
        return counts
    }

    /// The facts about each tenant's given objects (``PolicyFactsRepository/facts(about:in:)`` for many), in two
    /// statements; a tenant `objects` leaves out has no entry.
    package func facts(about objects: [TenantID: [ObjectGUID]]) async throws -> [TenantID: DirectoryFacts] {
        let pairs = objects.flatMap { tenant, guids in guids.map { (tenant.rawValue, $0.rawValue) } }
        guard !pairs.isEmpty else {
            return objects.mapValues { _ in DirectoryFacts(closureRows: [], parents: [:]) }
        }
        let owners = pairs.map(\.0)
        let guids = pairs.map(\.1)
        let memberships = try await tx.query(
            """
            SELECT tenant_id, member_guid, group_guid, depth, chain
            FROM charter_private.batch_memberships(\(ids)::uuid[], \(owners)::uuid[], \(guids)::uuid[])
            """
        )
        var closure: [TenantID: [MembershipClosure.Row]] = [:]
        for try await (tenant, member, group, depth, chain) in memberships.decode((UUID, UUID, UUID, Int, [UUID]).self) {
            closure[TenantID(tenant), default: []].append(
                MembershipClosure.Row(
                    member: ObjectGUID(member), group: ObjectGUID(group), depth: depth, chain: chain.map(ObjectGUID.init)
                )
            )
        }
        let links = try await tx.query(
            """
            SELECT tenant_id, guid, parent_guid
            FROM charter_private.batch_parents(\(ids)::uuid[], \(owners)::uuid[], \(guids)::uuid[])
            """
        )
        var parents: [TenantID: [ObjectGUID: ObjectGUID]] = [:]
        for try await (tenant, guid, parent) in links.decode((UUID, UUID, UUID).self) {
            parents[TenantID(tenant), default: [:]][ObjectGUID(guid)] = ObjectGUID(parent)
        }
        return objects.keys.reduce(into: [:]) { facts, tenant in
            facts[tenant] = DirectoryFacts(closureRows: closure[tenant] ?? [], parents: parents[tenant] ?? [:])
        }
    }

    /// What resolving `scopes` needs of each tenant's directory (``PolicyFactsRepository/scopeDirectory(for:in:)``
    /// for many, every tenant asked about the same scopes: a group or OU no scope of a tenant names is never
    /// looked up in its directory). Nothing is read when `scopes` is empty.
    package func scopeDirectories(for scopes: [NamedScope]) async throws -> [TenantID: ScopeDirectory] {
        var directories = Dictionary(uniqueKeysWithValues: tenants.map { ($0, ScopeDirectory()) })
        let lookup = PolicyFactsRepository.GroupLookup(scopes)
        if !lookup.isEmpty {
            let rows = try await tx.query(
                """
                SELECT tenant_id, guid, sam_account_name, name, sid
                FROM charter_private.batch_scope_groups(\(ids)::uuid[], \(lookup.names)::text[],
                    \(lookup.sids)::text[], \(lookup.relativeIDs)::bigint[])
                """
            )
            let decoded = rows.decode((UUID, UUID, String?, String, String?).self)
            for try await (tenant, guid, accountName, name, sid) in decoded {
                directories[TenantID(tenant), default: ScopeDirectory()].groups.append(
                    ScopeDirectory.Group(guid: ObjectGUID(guid), accountName: accountName, name: name, sid: sid)
                )
            }
        }
        if scopes.contains(where: { !$0.organizationalUnits.isEmpty }) {
            let rows = try await tx.query(
                "SELECT tenant_id, kind, guid, dn FROM charter_private.batch_scope_containers(\(ids)::uuid[])"
            )
            for try await (tenant, kind, guid, dn) in rows.decode((UUID, String, UUID?, String).self) {
                let id = TenantID(tenant)
                if kind == "ou", let guid {
                    directories[id, default: ScopeDirectory()].organizationalUnits.append(
                        ScopeDirectory.OrganizationalUnit(guid: ObjectGUID(guid), dn: dn)
                    )
                } else {
                    directories[id, default: ScopeDirectory()].domains.append(dn)
                }
            }
        }
        return directories
    }
}

extension Transaction {
    /// Reads for many tenants of this MSP transaction at once; `tenants` must be live tenants of its MSP.
    package func batch(_ tenants: [TenantID]) -> TenantBatchRepository {
        TenantBatchRepository(tx: self, tenants: tenants)
    }
}
