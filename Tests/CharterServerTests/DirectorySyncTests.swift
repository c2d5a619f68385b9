import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import Foundation
import Logging
import NIOPosix
import Testing

/// The sync engine against the real Samba DC and PostgreSQL: each test its own OU, tenant and connection.
@Suite("Directory sync")
struct DirectorySyncTests {
    let domain = TestDomain()

    /// What a connection's stored directory holds, for comparisons.
    struct Snapshot: Equatable {
        var entries: [DirectoryEntry]
        var edges: Set<DirectoryEdge>
        var closure: Set<MembershipClosure.Row>
    }

    func engine(
        _ database: Database, owner: String = "tests-\(UUID())", readerOptions: DirectoryReader.Options = .init()
    ) throws -> DirectorySyncEngine {
        try DirectorySyncEngine(
            database: database, sealer: TestDomain.sealer(), threadPool: .ldap, logger: TestApp.logger,
            leaseOwner: owner, readerOptions: readerOptions, destinations: TestApp.destinations
        )
    }

    func sync(
        _ world: TestApp.World, _ connection: DirectoryConnection, _ kind: SyncRun.Kind = .full,
        confirm: Bool = false
    ) async throws -> SyncRun {
        try await TestApp.withOwner { database in
            try await engine(database).sync(
                .init(
                    tenantID: world.tenants[0], mspID: world.msp, connectionID: connection.id, kind: kind,
                    trigger: .api, confirmsDeletions: confirm
                )
            )
        }
    }

    func snapshot(_ world: TestApp.World, _ connection: DirectoryConnection) async throws -> Snapshot {
        try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                let directory = tx.directory(of: world.tenants[0])
                return Snapshot(
                    entries: try await directory.entries(of: connection.id),
                    edges: try await directory.memberEdges(of: connection.id),
                    closure: try await directory.closureRows(of: connection.id)
                )
            }
        }
    }

    /// A small directory: nested OUs, users (one disabled), a computer, groups nested three deep with a cycle,
    /// a name with a comma, quotes and non-ASCII letters. Returns the DNs by role.
    func populate(_ ldap: LDAPConnection, _ ou: String) async throws -> [String: String] {
        var dns: [String: String] = [:]
        let staff = try await ldap.addOU("Staff", in: ou)
        let sales = try await ldap.addOU("Sales", in: staff)
        dns["staff"] = staff
        dns["sales"] = sales
        dns["alice"] = try await ldap.addUser("Alice", in: sales)
        dns["bob"] = try await ldap.addUser("Bob, \"Bobby\" Müller", in: staff)
        dns["carol"] = try await ldap.addUser("Carol", in: sales, disabled: true)
        dns["pc"] = try await ldap.addComputer("PC1", in: staff)
        dns["g1"] = try await ldap.addGroup("G1", in: ou, members: [dns["alice"]!, dns["pc"]!])
        dns["g2"] = try await ldap.addGroup("G2", in: ou, members: [dns["g1"]!, dns["bob"]!])
        dns["g3"] = try await ldap.addGroup("G3", in: ou, members: [dns["g2"]!])
        // A cycle: G1 is in G3, which is in… G1 through G2.
        try await ldap.modify(dns["g1"]!, [LDAPModification(.add, "member", [dns["g3"]!])])
        dns["lonely"] = try await ldap.addGroup("Lonely", in: sales, members: [dns["carol"]!])
        return dns
    }

    @Test("a full sync stores every object and the memberships the DC itself reports")
    func fullSyncMatchesDomainController() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "full")
        let dns = try await populate(ldap, ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)

        let run = try await sync(world, connection)
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        #expect(run.kind == .full)
        #expect(run.counts.byKind["user"]?.added == 3)
        #expect(run.counts.byKind["group"]?.added == 4)

        let stored = try await snapshot(world, connection)
        let onDC = try await ldap.objects(under: ou)
        #expect(Dictionary(uniqueKeysWithValues: stored.entries.map { ($0.guid, $0.dn) }) == onDC)
        for entry in stored.entries where [.user, .computer, .group].contains(entry.kind) {
            // A group inside a cycle reaches itself on the DC; the closure never lists a group in itself.
            let expected = try await ldap.groupsInChain(of: entry.dn, under: ou).subtracting([entry.guid])
            let actual = Set(stored.closure.filter { $0.member == entry.guid }.map(\.group))
            #expect(actual == expected, "groups of \(entry.dn)")
        }
        let carol = try #require(stored.entries.first { $0.dn.lowercased() == dns["carol"]?.lowercased() })
        #expect(carol.isDisabled)
        let bob = try #require(stored.entries.first { $0.dn.lowercased() == dns["bob"]?.lowercased() })
        #expect(bob.name == "Bob, \"Bobby\" Müller")
        let pc = try #require(stored.entries.first { $0.dn.lowercased() == dns["pc"]?.lowercased() })
        #expect(pc.kind == .computer && pc.dnsHostName == "pc1.charter.test")
        // Alice reaches G3 through G1 → G2 → G3.
        let alice = try await ldap.guid(of: try #require(dns["alice"]))
        let g3 = try await ldap.guid(of: try #require(dns["g3"]))
        let chain = try #require(stored.closure.first { $0.member == alice && $0.group == g3 })
        #expect(chain.depth == 3)
        let sales = try await ldap.guid(of: try #require(dns["sales"]))
        let aliceEntry = try #require(stored.entries.first { $0.guid == alice })
        #expect(aliceEntry.parentGUID == sales)
    }

    @Test("after adds, modifications, a move, an OU rename, deletions and membership changes, incremental equals full")
    func incrementalReachesFullState() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "incr")
        let dns = try await populate(ldap, ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let threshold = DeletionThreshold(objects: 100, percent: 100)
        let connection = try await domain.makeConnection(
            tenant: world.tenants[0], msp: world.msp, base: ou, threshold: threshold
        )
        #expect(try await sync(world, connection).status == .succeeded)

        let alice = try await ldap.guid(of: try #require(dns["alice"]))
        let dave = try await ldap.addUser("Dave", in: try #require(dns["sales"]))
        try await ldap.modify(try #require(dns["bob"]), [LDAPModification(.replace, "displayName", ["Robert"])])
        // Move Alice from Sales to Staff.
        let staff = try #require(dns["staff"])
        try await ldap.rename(try #require(dns["alice"]), newRDN: "CN=Alice", newParent: staff)
        // Rename Staff: every DN below changes.
        try await ldap.rename(staff, newRDN: "OU=Personnel", newParent: ou)
        let personnel = "OU=Personnel,\(ou)"
        try await ldap.delete("CN=Carol,OU=Sales,\(personnel)")
        try await ldap.delete("CN=Lonely,OU=Sales,\(personnel)")
        try await ldap.modify(
            try #require(dns["g3"]),
            [LDAPModification(.add, "member", ["CN=Dave,OU=Sales,\(personnel)"])]
        )
        _ = dave

        let run = try await sync(world, connection, .incremental)
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        #expect(run.kind == .incremental)
        #expect(run.counts.byKind["user"]?.deleted == 1)
        #expect(run.counts.byKind["group"]?.deleted == 1)
        #expect(run.counts.byKind["user"]?.added == 1)
        #expect(run.counts.byKind["user"]?.moved == 1)
        let incremental = try await snapshot(world, connection)

        let fresh = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        #expect(try await sync(world, fresh).status == .succeeded)
        let full = try await snapshot(world, fresh)

        #expect(incremental.entries.map(\.dn) == full.entries.map(\.dn))
        #expect(incremental.entries.map(\.parentGUID) == full.entries.map(\.parentGUID))
        #expect(incremental.entries.map(\.displayName) == full.entries.map(\.displayName))
        #expect(incremental.entries == full.entries)
        #expect(incremental.edges == full.edges)
        #expect(incremental.closure == full.closure)
        #expect(incremental.entries.contains { $0.guid == alice && $0.dn.lowercased() == "CN=Alice,\(personnel)".lowercased() })
    }

    @Test("a sync that would delete more than the threshold stops until confirmed")
    func deletionGuard() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "guard")
        let dns = try await populate(ldap, ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(
            tenant: world.tenants[0], msp: world.msp, base: ou, threshold: DeletionThreshold(objects: 1, percent: 100)
        )
        #expect(try await sync(world, connection).status == .succeeded)
        let before = try await snapshot(world, connection)

        try await ldap.delete(try #require(dns["lonely"]))
        try await ldap.delete(try #require(dns["carol"]))
        let held = try await sync(world, connection, .full)
        #expect(held.status == .needsConfirmation)
        #expect(held.pendingDeletions == 2)
        #expect(try await snapshot(world, connection) == before)

        let confirmed = try await sync(world, connection, .full, confirm: true)
        #expect(confirmed.status == .succeeded, "\(confirmed.error ?? "")")
        #expect(try await snapshot(world, connection).entries.count == before.entries.count - 2)
    }

    @Test("a sync against an unreachable DC changes nothing and records a failed run with the LDAP error")
    func unreachableDomainController() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "down")
        _ = try await populate(ldap, ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        #expect(try await sync(world, connection).status == .succeeded)
        let before = try await snapshot(world, connection)

        var unreachable = connection
        var settings = try #require(connection.ldap)
        settings.urls = ["ldap://127.0.0.1:1"]
        unreachable.transport = .direct(settings)
        let broken = unreachable
        _ = try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directoryConnections(of: world.tenants[0]).update(broken, expectedVersion: nil)
            }
        }
        let run = try await sync(world, connection)
        #expect(run.status == .failed)
        #expect(run.error?.hasPrefix("LDAP:") == true, "\(run.error ?? "")")
        #expect(try await snapshot(world, connection) == before)
        let recorded = try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.syncRuns(of: world.tenants[0]).get(run.id)
            }
        }
        #expect(recorded.status == .failed && recorded.error == run.error)
    }
}
