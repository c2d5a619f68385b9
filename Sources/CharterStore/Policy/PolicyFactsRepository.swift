package import CharterCore
import Foundation
import PostgresNIO

/// What policy needs of the tenant's synced directory (the tables of `0002_directory.sql`): which objects
/// exist and of what kind, and the membership facts resolution runs on.
///
/// Objects of every connection of the tenant count together: objectGUIDs are unique across domains.
package struct PolicyFactsRepository: Sendable {
    let tx: Transaction

    /// The kinds of the given objects that exist in the tenant's directory; absent GUIDs are not in it.
    ///
    /// The domain root is reported as an OU: a scope may list it to mean the whole domain.
    package func kinds(of guids: some Collection<ObjectGUID>, in tenant: TenantID) async throws
        -> [ObjectGUID: DirectoryObjectKind]
    {
        guard !guids.isEmpty else { return [:] }
        let rows = try await tx.query(
            """
            SELECT guid, kind FROM directory_objects
            WHERE tenant_id = \(tenant.rawValue) AND guid = ANY(\(guids.map(\.rawValue))::uuid[])
            """
        )
        var kinds: [ObjectGUID: DirectoryObjectKind] = [:]
        for try await (guid, kind) in rows.decode((UUID, String).self) {
            guard let kind = DirectoryObjectKind(rawValue: kind) else { continue }
            kinds[ObjectGUID(guid)] = kind == .domain ? .organizationalUnit : kind
        }
        return kinds
    }

    /// The facts about `objects` alone: their closure rows and their chains of parents up to the root.
    ///
    /// Enough to resolve or explain the policy of these objects without loading the whole directory.
    package func facts(about objects: [ObjectGUID], in tenant: TenantID) async throws -> DirectoryFacts {
        let guids = objects.map(\.rawValue)
        let closure = try await Self.closureRows(
            try await tx.query(
                """
                SELECT member_guid, group_guid, depth, chain FROM directory_memberships
                WHERE tenant_id = \(tenant.rawValue) AND member_guid = ANY(\(guids)::uuid[])
                """
            )
        )
        // UNION (not UNION ALL) stops at a repeated row, so a corrupt tree that loops still ends.
        let parents = try await Self.parents(
            try await tx.query(
                """
                WITH RECURSIVE up (guid, parent_guid) AS (
                    SELECT guid, parent_guid FROM directory_objects
                    WHERE tenant_id = \(tenant.rawValue) AND guid = ANY(\(guids)::uuid[])
                    UNION
                    SELECT o.guid, o.parent_guid FROM directory_objects o
                    JOIN up ON o.guid = up.parent_guid
                    WHERE o.tenant_id = \(tenant.rawValue)
                )
                SELECT guid, parent_guid FROM up WHERE parent_guid IS NOT NULL
                """
            )
        )
        return DirectoryFacts(closureRows: closure, parents: parents)
    }

    /// The facts about the tenant's whole directory.
    package func allFacts(in tenant: TenantID) async throws -> DirectoryFacts {
        let closure = try await Self.closureRows(
            try await tx.query(
                """
                SELECT member_guid, group_guid, depth, chain FROM directory_memberships
                WHERE tenant_id = \(tenant.rawValue)
                """
            )
        )
        let parents = try await Self.parents(
            try await tx.query(
                """
                SELECT guid, parent_guid FROM directory_objects
                WHERE tenant_id = \(tenant.rawValue) AND parent_guid IS NOT NULL
                """
            )
        )
        return DirectoryFacts(closureRows: closure, parents: parents)
    }

    /// Every computer of the tenant's directory, in GUID order.
    package func computers(in tenant: TenantID) async throws -> [ObjectGUID] {
        let rows = try await tx.query(
            """
            SELECT guid FROM directory_objects
            WHERE tenant_id = \(tenant.rawValue) AND kind = 'computer' ORDER BY guid
            """
        )
        var computers: [ObjectGUID] = []
        for try await guid in rows.decode(UUID.self) { computers.append(ObjectGUID(guid)) }
        return computers
    }

    /// Closure rows as Core's rows (`member_guid, group_guid, depth, chain`).
    private static func closureRows(_ rows: PostgresRowSequence) async throws -> [MembershipClosure.Row] {
        var result: [MembershipClosure.Row] = []
        for try await (member, group, depth, chain) in rows.decode((UUID, UUID, Int, [UUID]).self) {
            result.append(
                MembershipClosure.Row(
                    member: ObjectGUID(member),
                    group: ObjectGUID(group),
                    depth: depth,
                    chain: chain.map(ObjectGUID.init)
                )
            )
        }
        return result
    }

    /// Parent links (`guid, parent_guid`) as a map.
    private static func parents(_ rows: PostgresRowSequence) async throws -> [ObjectGUID: ObjectGUID] {
        var parents: [ObjectGUID: ObjectGUID] = [:]
        for try await (guid, parent) in rows.decode((UUID, UUID).self) {
            parents[ObjectGUID(guid)] = ObjectGUID(parent)
        }
        return parents
    }
}
