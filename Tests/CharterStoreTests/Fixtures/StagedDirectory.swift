import CharterCore
import CharterStore
import Foundation
import Testing

/// One directory connection of a fresh tenant, synced by staging pages straight into the store: what the sync
/// engine does in its one transaction, with the pages written by the test instead of read from a DC.
struct StagedDirectory: Sendable {
    /// The domain SID primary groups resolve against (`<domain SID>-<primaryGroupID>` is the group's SID).
    static let domainSID = "S-1-5-21-1000-2000-3000"
    static let base = "DC=charter,DC=test"

    let msp: MSPID
    let tenant: TenantID
    let connection: DirectoryConnectionID

    /// A new connection in `tenant` (made by ``TestDatabase/makeMSP(tenants:)``), stored as the service stores one.
    static func make(msp: MSPID, tenant: TenantID) async throws -> StagedDirectory {
        let now = Date()
        let connection = DirectoryConnection(
            id: .random(), tenantID: tenant, name: "Staged \(UUID())", urls: ["ldap://127.0.0.2"], baseDN: base,
            bindDN: "cn=reader", sealedPassword: "not sealed: never opened here", tlsMode: .plain, caPEM: nil,
            interval: .seconds(3600), isEnabled: false, createdAt: now, updatedAt: now
        )
        try await TestDatabase.withService { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                try await tx.directoryConnections(of: tenant).create(connection, msp: msp)
            }
        }
        return StagedDirectory(msp: msp, tenant: tenant, connection: connection.id)
    }

    /// Stages `pages` (and tombstones) and finishes the run in one tenant transaction, as the sync engine does;
    /// a throw (the deletion guard's included) rolls all of it back.
    @discardableResult
    func sync(
        _ mode: DirectoryStaging.Mode, _ pages: [[DirectoryEntry]], deletions: [DirectoryEntry] = [],
        threshold: DeletionThreshold = DeletionThreshold(), confirmsDeletions: Bool = false, usn: Int64 = 1
    ) async throws -> SyncCounts {
        try await TestDatabase.withService { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                let stored = try await tx.directory(of: tenant).watermark(connection)
                var staging = tx.directoryStaging(of: tenant, connection: connection)
                try await staging.prepare(domainSID: stored?.domainSID)
                for page in pages { try await staging.stage(page, mode: mode) }
                try await staging.stageDeletions(deletions.map(\.guid.rawValue))
                let now = Date()
                return try await staging.finish(
                    mode, threshold: threshold, confirmsDeletions: confirmsDeletions,
                    watermark: StoredWatermark(
                        serviceName: "dc1.charter.test", invocationID: UUID(uuid: (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)),
                        usn: usn, domainSID: Self.domainSID, lastFullSyncAt: now, syncedAt: now
                    )
                )
            }
        }
    }

    /// What is stored for the connection.
    struct Snapshot: Sendable, Equatable {
        var entries: [ObjectGUID: DirectoryEntry]
        var edges: Set<DirectoryEdge>
        var closure: Set<MembershipClosure.Row>
        var watermark: StoredWatermark?
    }

    func snapshot() async throws -> Snapshot {
        try await TestDatabase.withService { database in
            try await database.withTenant(tenant, msp: msp, logger: TestDatabase.logger) { tx in
                let directory = tx.directory(of: tenant)
                return Snapshot(
                    entries: Dictionary(uniqueKeysWithValues: try await directory.entries(of: connection).map { ($0.guid, $0) }),
                    edges: try await directory.memberEdges(of: connection),
                    closure: try await directory.closureRows(of: connection),
                    watermark: try await directory.watermark(connection)
                )
            }
        }
    }

    /// The objects, edges and closure that storing exactly `entries` must give: the closure computed in memory
    /// by ``MembershipGraph``, the oracle the incremental closure updates are held to.
    static func expected(_ entries: [DirectoryEntry]) -> (
        entries: [ObjectGUID: DirectoryEntry], edges: Set<DirectoryEdge>, closure: Set<MembershipClosure.Row>
    ) {
        var graph = MembershipGraph()
        var edges: Set<DirectoryEdge> = []
        var groupsBySID: [String: ObjectGUID] = [:]
        for entry in entries where entry.kind == .group {
            for member in entry.members ?? [] {
                edges.insert(DirectoryEdge(group: entry.guid, member: member))
                if let guid = member.guid { graph.members[entry.guid, default: []].insert(guid) }
            }
            if let sid = entry.sid { groupsBySID[sid] = entry.guid }
        }
        for entry in entries {
            if let id = entry.primaryGroupID, let group = groupsBySID["\(domainSID)-\(id)"] {
                graph.primaryGroups[entry.guid] = group
            }
        }
        let stored = entries.map { entry in
            var entry = entry
            entry.members = nil
            return entry
        }
        return (
            Dictionary(uniqueKeysWithValues: stored.map { ($0.guid, $0) }), edges, Set(graph.closure().rows)
        )
    }
}

/// Builders of directory entries as the reader delivers them: fresh GUIDs, DNs under their parent's.
enum Entry {
    static func domain() -> DirectoryEntry {
        DirectoryEntry(guid: ObjectGUID(UUID()), kind: .domain, dn: StagedDirectory.base, parentGUID: nil, name: "charter")
    }

    static func ou(_ name: String, in parent: DirectoryEntry) -> DirectoryEntry {
        DirectoryEntry(guid: ObjectGUID(UUID()), kind: .organizationalUnit, dn: "OU=\(name),\(parent.dn)", parentGUID: parent.guid, name: name)
    }

    static func user(_ name: String, in parent: DirectoryEntry, primaryGroup: Int64? = 513) -> DirectoryEntry {
        DirectoryEntry(
            guid: ObjectGUID(UUID()), kind: .user, dn: "CN=\(name),\(parent.dn)", parentGUID: parent.guid, name: name,
            samAccountName: name, userPrincipalName: "\(name)@charter.test", primaryGroupID: primaryGroup, usnChanged: 10
        )
    }

    static func computer(_ name: String, in parent: DirectoryEntry) -> DirectoryEntry {
        DirectoryEntry(
            guid: ObjectGUID(UUID()), kind: .computer, dn: "CN=\(name),\(parent.dn)", parentGUID: parent.guid,
            name: name, samAccountName: "\(name)$", dnsHostName: "\(name).charter.test", primaryGroupID: 515,
            usnChanged: 10
        )
    }

    /// A global security group with the relative ID `rid`, whose member list is `members`.
    static func group(
        _ name: String, in parent: DirectoryEntry, rid: Int, members: [DirectoryEntry] = []
    ) -> DirectoryEntry {
        DirectoryEntry(
            guid: ObjectGUID(UUID()), kind: .group, dn: "CN=\(name),\(parent.dn)", parentGUID: parent.guid, name: name,
            samAccountName: name, sid: "\(StagedDirectory.domainSID)-\(rid)", groupType: -2_147_483_646,
            usnChanged: 10, members: members.map(\.asMember)
        )
    }
}

extension DirectoryEntry {
    /// This object as a `member` value of a group.
    var asMember: DirectoryMember { DirectoryMember(guid: guid, dn: dn, sid: sid) }
}

extension MembershipClosure.Row {
    /// The stored row of `member` in `group`, if any.
    static func find(_ member: DirectoryEntry, in group: DirectoryEntry, _ rows: Set<Self>) -> Self? {
        rows.first { $0.member == member.guid && $0.group == group.guid }
    }
}
