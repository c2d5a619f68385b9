import CharterCore
import CharterStore
import Foundation
import Testing

/// ``DirectoryStaging`` against PostgreSQL, without a DC or HTTP: each test stages pages into a connection of a
/// fresh tenant and reads back what is stored. The closure is held to ``MembershipGraph/closure()`` over the
/// objects the test staged.
@Suite("Directory staging")
struct DirectoryStagingTests {
    /// A small domain: two OUs, users, a computer, groups nested three deep, Domain Users (RID 513) as everyone's
    /// primary group, and a member named only by DN.
    struct Domain {
        var root = Entry.domain()
        var staff: DirectoryEntry
        var it: DirectoryEntry
        var alice: DirectoryEntry
        var bob: DirectoryEntry
        var carol: DirectoryEntry
        var pc: DirectoryEntry
        var domainUsers: DirectoryEntry
        var g1: DirectoryEntry
        var g2: DirectoryEntry
        var g3: DirectoryEntry
        static let outsider = DirectoryMember(guid: nil, dn: "CN=outsider,CN=ForeignSecurityPrincipals,\(StagedDirectory.base)", sid: nil)

        init() {
            staff = Entry.ou("staff", in: root)
            it = Entry.ou("it", in: staff)
            alice = Entry.user("alice", in: staff)
            bob = Entry.user("bob", in: it)
            carol = Entry.user("carol", in: it)
            pc = Entry.computer("pc1", in: it)
            domainUsers = Entry.group("Domain Users", in: root, rid: 513)
            g1 = Entry.group("g1", in: staff, rid: 1101, members: [alice, carol])
            g1.members?.append(Self.outsider)
            g2 = Entry.group("g2", in: staff, rid: 1102, members: [g1, bob])
            g3 = Entry.group("g3", in: root, rid: 1103, members: [g2])
        }

        var all: [DirectoryEntry] { [root, staff, it, alice, bob, carol, pc, domainUsers, g1, g2, g3] }
        /// Two pages, a group before the group it contains.
        var pages: [[DirectoryEntry]] { [[root, staff, g3, g2, alice], [it, bob, carol, pc, domainUsers, g1]] }
    }

    static func fresh() async throws -> StagedDirectory {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        return try await StagedDirectory.make(msp: msp, tenant: tenants[0])
    }

    static func expectStored(
        _ snapshot: StagedDirectory.Snapshot, _ entries: [DirectoryEntry], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let expected = StagedDirectory.expected(entries)
        #expect(snapshot.entries == expected.entries, sourceLocation: sourceLocation)
        #expect(snapshot.edges == expected.edges, sourceLocation: sourceLocation)
        #expect(snapshot.closure == expected.closure, sourceLocation: sourceLocation)
    }

    @Test("a first full read stores every object, the member edges and the closure of nested and primary groups")
    func firstFullRead() async throws {
        let store = try await Self.fresh()
        let domain = Domain()
        let counts = try await store.sync(.full, domain.pages, usn: 42)
        #expect(counts.byKind["domain"] == .init(added: 1))
        #expect(counts.byKind["ou"] == .init(added: 2))
        #expect(counts.byKind["user"] == .init(added: 3))
        #expect(counts.byKind["computer"] == .init(added: 1))
        #expect(counts.byKind["group"] == .init(added: 4))

        let stored = try await store.snapshot()
        Self.expectStored(stored, domain.all)
        // Nested three deep: alice → g1 → g2 → g3, with the chain that leads there.
        let nested = try #require(MembershipClosure.Row.find(domain.alice, in: domain.g3, stored.closure))
        #expect(nested.depth == 3)
        #expect(nested.chain == [domain.g1.guid, domain.g2.guid, domain.g3.guid])
        // The primary group, which no member edge names.
        #expect(MembershipClosure.Row.find(domain.alice, in: domain.domainUsers, stored.closure)?.depth == 1)
        #expect(!stored.edges.contains { $0.group == domain.domainUsers.guid })
        // A member named by DN only is an edge, with no closure.
        #expect(stored.edges.contains(DirectoryEdge(group: domain.g1.guid, member: Domain.outsider)))
        #expect(stored.watermark?.usn == 42)
        #expect(stored.watermark?.domainSID == StagedDirectory.domainSID)
    }

    @Test("staging the same full read again changes nothing and reports no change")
    func idempotentFullRead() async throws {
        let store = try await Self.fresh()
        let domain = Domain()
        try await store.sync(.full, domain.pages)
        let before = try await store.snapshot()
        let counts = try await store.sync(.full, Array(domain.pages.reversed()), usn: 2)
        #expect(!counts.hasChanges, "\(counts)")
        let after = try await store.snapshot()
        #expect(after.entries == before.entries)
        #expect(after.edges == before.edges)
        #expect(after.closure == before.closure)
        #expect(after.watermark?.usn == 2)
    }

    @Test("an incremental delta with nothing in it changes nothing")
    func emptyDelta() async throws {
        let store = try await Self.fresh()
        let domain = Domain()
        try await store.sync(.full, domain.pages)
        let counts = try await store.sync(.incremental, [], usn: 3)
        #expect(!counts.hasChanges)
        Self.expectStored(try await store.snapshot(), domain.all)
    }

    @Test("a full read without an object deletes it, the edges to it and its closure rows")
    func fullReadDeletes() async throws {
        let store = try await Self.fresh()
        var domain = Domain()
        try await store.sync(.full, domain.pages)
        // carol is gone from the DC, and so from g1's list.
        domain.g1.members = [domain.alice.asMember, Domain.outsider]
        let remaining = domain.all.filter { $0.guid != domain.carol.guid }
        let counts = try await store.sync(.full, [remaining], confirmsDeletions: true)
        #expect(counts.byKind["user"] == .init(deleted: 1))
        #expect(counts.totalDeleted == 1)
        let stored = try await store.snapshot()
        Self.expectStored(stored, remaining)
        #expect(!stored.closure.contains { $0.member == domain.carol.guid })
    }

    @Test("an incremental delta changes, moves and deletes only what it names, and renames carry to descendants")
    func incrementalDelta() async throws {
        let store = try await Self.fresh()
        var domain = Domain()
        try await store.sync(.full, domain.pages)

        // alice gets a display name (changed); bob moves up into staff (moved); the OU "it" is renamed to "eng"
        // (changed), so pc1 and carol, which the delta does not return, move with it; carol is then deleted.
        domain.alice.displayName = "Alice A."
        domain.bob.parentGUID = domain.staff.guid
        domain.bob.dn = "CN=bob,\(domain.staff.dn)"
        domain.it.name = "eng"
        domain.it.dn = "OU=eng,\(domain.staff.dn)"
        let counts = try await store.sync(.incremental, [[domain.alice, domain.bob], [domain.it]], deletions: [domain.carol])
        #expect(counts.byKind["user"] == .init(changed: 1, moved: 1, deleted: 1))
        #expect(counts.byKind["ou"] == .init(changed: 1))
        #expect(counts.byKind["group"] == nil)

        domain.pc.dn = "CN=pc1,\(domain.it.dn)"
        // g1 was not in the delta: its stored list loses carol in the sweep and keeps the rest.
        domain.g1.members = [domain.alice.asMember, Domain.outsider]
        // Edges naming bob follow his new DN.
        domain.g2.members = [domain.g1.asMember, domain.bob.asMember]
        let expected = domain.all.filter { $0.guid != domain.carol.guid }
        Self.expectStored(try await store.snapshot(), expected)
    }

    @Test("a group's member list in a delta replaces its stored edges, and the closure follows; so do primary groups")
    func incrementalMembership() async throws {
        let store = try await Self.fresh()
        var domain = Domain()
        try await store.sync(.full, domain.pages)

        // g2 drops g1 (so alice and carol leave g2 and g3) and takes carol directly; bob's primary group becomes
        // a new group, staged in the same delta.
        let admins = Entry.group("admins", in: domain.root, rid: 1200)
        domain.g2.members = [domain.carol.asMember, domain.bob.asMember]
        domain.bob.primaryGroupID = 1200
        let counts = try await store.sync(.incremental, [[domain.g2, domain.bob, admins]])
        #expect(counts.byKind["group"] == .init(added: 1, changed: 0))
        #expect(counts.byKind["user"] == .init(changed: 1))

        let stored = try await store.snapshot()
        Self.expectStored(stored, domain.all + [admins])
        #expect(MembershipClosure.Row.find(domain.alice, in: domain.g3, stored.closure) == nil)
        #expect(MembershipClosure.Row.find(domain.carol, in: domain.g3, stored.closure)?.chain == [domain.g2.guid, domain.g3.guid])
        #expect(MembershipClosure.Row.find(domain.bob, in: admins, stored.closure)?.depth == 1)
        #expect(MembershipClosure.Row.find(domain.bob, in: domain.domainUsers, stored.closure) == nil)
    }

    @Test("deleting a group in a delta removes its edges and every closure row through it")
    func incrementalGroupDeletion() async throws {
        let store = try await Self.fresh()
        var domain = Domain()
        try await store.sync(.full, domain.pages)
        let counts = try await store.sync(.incremental, [], deletions: [domain.g2])
        #expect(counts.byKind["group"] == .init(deleted: 1))
        domain.g3.members = []
        let stored = try await store.snapshot()
        Self.expectStored(stored, domain.all.filter { $0.guid != domain.g2.guid })
        #expect(!stored.closure.contains { $0.group == domain.g3.guid })
    }

    @Test("a repeated object in a read is staged once, the first copy standing")
    func repeatedObject() async throws {
        let store = try await Self.fresh()
        let domain = Domain()
        var copy = domain.alice
        copy.displayName = "a second copy"
        let counts = try await store.sync(.full, domain.pages + [[copy]])
        #expect(counts.byKind["user"] == .init(added: 3))
        Self.expectStored(try await store.snapshot(), domain.all)
    }
}

/// The deletion guard: ``DeletionThreshold`` allows the smaller of a count and a percentage of the objects stored
/// before the run; beyond it ``DirectoryStaging/finish(_:threshold:confirmsDeletions:watermark:)`` throws and the
/// transaction rolls back, unless the run confirms the deletions.
@Suite("Directory staging deletion guard")
struct DirectoryStagingGuardTests {
    /// The root and 19 users: 20 objects stored.
    static func twenty() async throws -> (StagedDirectory, [DirectoryEntry]) {
        let store = try await DirectoryStagingTests.fresh()
        let root = Entry.domain()
        let entries = [root] + (0..<19).map { Entry.user("user\($0)", in: root, primaryGroup: nil) }
        try await store.sync(.full, [entries])
        return (store, entries)
    }

    @Test(
        "deletions over the threshold throw with the counts and roll back",
        arguments: [
            // (threshold, deletions, allowed): 20 stored, so 10 % allows 2.
            (DeletionThreshold(objects: 500, percent: 10), 3, 2),
            (DeletionThreshold(objects: 1, percent: 100), 2, 1),
            (DeletionThreshold(objects: 0, percent: 100), 1, 0),
        ]
    )
    func tripped(threshold: DeletionThreshold, deletions: Int, allowed: Int) async throws {
        let (store, entries) = try await Self.twenty()
        let before = try await store.snapshot()
        let tripped = await #expect(throws: DirectoryStaging.DeletionGuardTripped.self) {
            try await store.sync(.full, [Array(entries.dropLast(deletions))], threshold: threshold, usn: 9)
        }
        #expect(tripped?.pendingDeletions == deletions)
        #expect(tripped?.allowedDeletions == allowed)
        #expect(tripped?.counts.byKind["user"]?.deleted == deletions)
        // Nothing of the run is stored, the watermark included.
        #expect(try await store.snapshot() == before)
    }

    @Test("tombstones of an incremental run are guarded the same way")
    func trippedIncremental() async throws {
        let (store, entries) = try await Self.twenty()
        let before = try await store.snapshot()
        await #expect(throws: DirectoryStaging.DeletionGuardTripped.self) {
            try await store.sync(.incremental, [], deletions: Array(entries.suffix(3)), threshold: .init(objects: 2))
        }
        #expect(try await store.snapshot() == before)
    }

    @Test("deletions up to the threshold apply without confirmation")
    func atThreshold() async throws {
        let (store, entries) = try await Self.twenty()
        let counts = try await store.sync(.full, [Array(entries.dropLast(2))], threshold: .init(objects: 500, percent: 10))
        #expect(counts.totalDeleted == 2)
        #expect(try await store.snapshot().entries.count == 18)
    }

    @Test("a run that confirms its deletions applies them whatever the threshold")
    func confirmed() async throws {
        let (store, entries) = try await Self.twenty()
        let counts = try await store.sync(
            .full, [[entries[0]]], threshold: .init(objects: 0, percent: 0), confirmsDeletions: true
        )
        #expect(counts.totalDeleted == 19)
        #expect(try await store.snapshot().entries.keys.sorted() == [entries[0].guid])
    }
}

/// Staging is bound to one tenant's connection: another tenant's directory, and another connection of the same
/// tenant, are neither changed nor seen.
@Suite("Directory staging isolation")
struct DirectoryStagingIsolationTests {
    @Test("a sync of one tenant leaves another tenant's rows with the same GUIDs untouched and invisible")
    func tenants() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        let mine = try await StagedDirectory.make(msp: msp, tenant: tenants[0])
        let theirs = try await StagedDirectory.make(msp: msp, tenant: tenants[1])
        let domain = DirectoryStagingTests.Domain()
        try await mine.sync(.full, domain.pages)
        try await theirs.sync(.full, domain.pages)
        let theirsBefore = try await theirs.snapshot()

        // Everything but the root goes from my directory; theirs keeps every object.
        try await mine.sync(.full, [[domain.root]], confirmsDeletions: true)
        #expect(try await mine.snapshot().entries.count == 1)
        #expect(try await theirs.snapshot() == theirsBefore)

        try await TestDatabase.withService { database async throws in
            try await database.withTenant(mine.tenant, msp: msp, logger: TestDatabase.logger) { tx async throws in
                let directory = tx.directory(of: theirs.tenant)
                #expect(try await directory.entries(of: theirs.connection).isEmpty)
                #expect(try await directory.memberEdges(of: theirs.connection).isEmpty)
                #expect(try await directory.closureRows(of: theirs.connection).isEmpty)
                #expect(try await directory.watermark(theirs.connection) == nil)
            }
        }
    }

    @Test("staging into another tenant's connection from my transaction is refused")
    func crossTenantWrite() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 2)
        let theirs = try await StagedDirectory.make(msp: msp, tenant: tenants[1])
        let domain = DirectoryStagingTests.Domain()
        await #expect(throws: (any Error).self) {
            try await TestDatabase.withService { database in
                try await database.withTenant(tenants[0], msp: msp, logger: TestDatabase.logger) { tx in
                    var staging = tx.directoryStaging(of: theirs.tenant, connection: theirs.connection)
                    try await staging.prepare(domainSID: nil)
                    try await staging.stage(domain.all, mode: .full)
                }
            }
        }
        #expect(try await theirs.snapshot().entries.isEmpty)
    }

    @Test("a full sync of one connection does not sweep another connection of the same tenant")
    func connections() async throws {
        let (msp, tenants) = try await TestDatabase.makeMSP(tenants: 1)
        let first = try await StagedDirectory.make(msp: msp, tenant: tenants[0])
        let second = try await StagedDirectory.make(msp: msp, tenant: tenants[0])
        let domain = DirectoryStagingTests.Domain()
        try await first.sync(.full, domain.pages)
        try await second.sync(.full, [domain.all])
        let secondBefore = try await second.snapshot()
        try await first.sync(.full, [[domain.root]], confirmsDeletions: true)
        #expect(try await second.snapshot() == secondBefore)
    }
}
