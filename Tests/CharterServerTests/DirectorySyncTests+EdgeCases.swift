import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import Foundation
import Synchronization
import Testing

/// Through the whole engine: a group whose members come in AD's 1500-value ranges, a primary group that is not
/// Domain Users, and a DC that stops in the middle of a sync.
extension DirectorySyncTests {
    @Test("a group of more than 1500 members read in AD's ranges is stored whole, with its transitive members")
    func groupBeyondRangeLimit() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "ranged")
        var users: [String] = []
        for index in 0..<50 { users.append(try await ldap.addUser("User \(index)", in: ou)) }
        var contacts: [String] = []
        for index in 0..<1_550 { contacts.append(try await ldap.addContact("Contact \(index)", in: ou)) }
        let big = try await ldap.addGroup("Big", in: ou, members: users + contacts)
        let parent = try await ldap.addGroup("Parent", in: ou, members: [big])
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)

        // Samba returns every value of a plain `member`; asking for `member;range=0-1499` makes it answer as AD
        // does for any group above 1500 members, and the reader must follow the ranges.
        let run = try await TestApp.withOwner { database in
            try await engine(database, readerOptions: .init(pageSize: 1000, memberRangeSize: 1500)).sync(
                .init(
                    tenantID: world.tenants[0], mspID: world.msp, connectionID: connection.id, kind: .full,
                    trigger: .api
                )
            )
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")

        let stored = try await snapshot(world, connection)
        let bigGUID = try await ldap.guid(of: big)
        let parentGUID = try await ldap.guid(of: parent)
        let edges = stored.edges.filter { $0.group == bigGUID }
        #expect(edges.count == 1_600)
        // Contacts are not synced objects; they stay as members with their GUID and DN.
        #expect(Set(edges.compactMap(\.member.guid)).count == 1_600)
        #expect(!stored.entries.contains { $0.name.hasPrefix("Contact ") })
        for dn in [users[0], users[49], contacts[0], contacts[1_549]] {
            let member = try await ldap.guid(of: dn)
            let groups = Set(stored.closure.filter { $0.member == member }.map(\.group))
            #expect(groups == [bigGUID, parentGUID], "groups of \(dn)")
            let onDC = try await ldap.groupsInChain(of: dn, under: ou)
            #expect(groups == onDC, "groups of \(dn) on the DC")
        }
        #expect(stored.closure.filter { $0.group == parentGUID }.count == 1_601)
    }

    @Test("a user whose primary group is not Domain Users is in that group and its parents, and leaves them again")
    func primaryGroupOtherThanDomainUsers() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "primary")
        let user = try await ldap.addUser("Paula", in: ou)
        let staff = try await ldap.addGroup("Staff", in: ou, members: [user])
        let everyone = try await ldap.addGroup("Everyone", in: ou, members: [staff])
        let staffEntry = try #require(try await ldap.read(staff, attributes: ["objectSid"]))
        let staffSID = try #require(staffEntry.value("objectSid").flatMap { SecurityIdentifier(bytes: $0) })
        let rid = try #require(staffSID.description.split(separator: "-").last.map(String.init))
        // AD moves the user out of Staff's `member` and into Domain Users' as the primary group changes.
        try await ldap.modify(user, [LDAPModification(.replace, "primaryGroupID", [rid])])
        let memberValues = try #require(try await ldap.read(staff, attributes: ["member"])).values("member")
        #expect(memberValues.isEmpty)

        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        #expect(try await sync(world, connection).status == .succeeded)

        let userGUID = try await ldap.guid(of: user)
        let staffGUID = try await ldap.guid(of: staff)
        let everyoneGUID = try await ldap.guid(of: everyone)
        let stored = try await snapshot(world, connection)
        #expect(!stored.edges.contains { $0.group == staffGUID && $0.member.guid == userGUID })
        let paula = try #require(stored.entries.first { $0.guid == userGUID })
        #expect(paula.primaryGroupID == Int64(rid))
        let rows = stored.closure.filter { $0.member == userGUID }
        #expect(Set(rows.map(\.group)) == [staffGUID, everyoneGUID])
        #expect(rows.first { $0.group == everyoneGUID }?.chain == [staffGUID, everyoneGUID])

        // Back to Domain Users (outside the synced OU): AD makes the user a plain member of Staff again, and an
        // incremental sync reaches what a full one does.
        try await ldap.modify(user, [LDAPModification(.replace, "primaryGroupID", ["513"])])
        let back = try await incrementalEqualsFull(world, connection, ou)
        #expect(back.edges.contains { $0.group == staffGUID && $0.member.guid == userGUID })
        #expect(Set(back.closure.filter { $0.member == userGUID }.map(\.group)) == [staffGUID, everyoneGUID])

        // Out of Staff: no group of the OU is left.
        try await ldap.modify(staff, [LDAPModification(.delete, "member", [user])])
        let out = try await incrementalEqualsFull(world, connection, ou)
        #expect(out.closure.filter { $0.member == userGUID }.isEmpty)
    }

    /// Runs an incremental sync of `connection`, then a full sync of the same OU into a fresh connection, expects
    /// them to store the same directory and returns what the incremental one stored.
    func incrementalEqualsFull(
        _ world: TestApp.World, _ connection: DirectoryConnection, _ ou: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Snapshot {
        let run = try await sync(world, connection, .incremental)
        #expect(
            run.status == .succeeded && run.kind == .incremental, "\(run.error ?? "")", sourceLocation: sourceLocation
        )
        let incremental = try await snapshot(world, connection)
        let fresh = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        #expect(try await sync(world, fresh).status == .succeeded, sourceLocation: sourceLocation)
        let full = try await snapshot(world, fresh)
        #expect(incremental.entries == full.entries, sourceLocation: sourceLocation)
        #expect(incremental.edges == full.edges, sourceLocation: sourceLocation)
        #expect(incremental.closure == full.closure, sourceLocation: sourceLocation)
        return incremental
    }

    @Test("a DC stopped in the middle of a sync leaves the stored directory as it was and the run failed")
    func domainControllerStoppedMidSync() async throws {
        // A DC of its own, so stopping it cannot disturb other tests (the reader's test uses 127.0.0.3).
        let address = ProcessInfo.processInfo.environment["CHARTER_TEST_STOPPABLE_SYNC_DC_ADDRESS"] ?? "127.0.0.4"
        try await StoppableDomainController.with(address: address, prefix: "charter-sync-dc") { folder in
            try await syncWhileStopping(address: address, folder: folder)
        }
    }

    private func syncWhileStopping(address: String, folder: String) async throws {
        let url = "ldap://\(address)"
        let ldap = try await LDAPConnection.connect(
            LDAPConfiguration(
                urls: [url], transportSecurity: .plain, bindDN: domain.bindDN, password: domain.password,
                connectTimeout: .seconds(5), operationTimeout: .seconds(5), destinations: TestApp.destinations
            ),
            threadPool: domain.threadPool, logger: domain.logger
        )
        defer { ldap.close() }
        let ou = try await domain.makeOU(ldap, "stopped")
        for index in 0..<30 { try await ldap.addUser("User \(index)", in: ou) }
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(
            tenant: world.tenants[0], msp: world.msp, base: ou, urls: [url]
        )
        let options = DirectoryReader.Options(pageSize: 5)
        let request = DirectorySyncEngine.Request(
            tenantID: world.tenants[0], mspID: world.msp, connectionID: connection.id, kind: .full, trigger: .api
        )
        let first = try await TestApp.withOwner { database in
            try await engine(database, readerOptions: options).sync(request)
        }
        #expect(first.status == .succeeded, "\(first.error ?? "")")
        let before = try await snapshot(world, connection)
        let watermarkBefore = try await watermark(world, connection)
        // A completed second sync would store these.
        for index in 0..<5 { try await ldap.addUser("Late \(index)", in: ou) }

        let pagesSeen = Counter()
        let run = try await TestApp.withOwner { database in
            try await engine(database, readerOptions: options).sync(request) { _ in
                // After the first page is merged: the DC goes away while the next pages are outstanding.
                if pagesSeen.increment() == 1 {
                    try? await StoppableDomainController.run(["stop", folder], address: address)
                }
            }
        }
        #expect(pagesSeen.value < 8)
        #expect(run.status == .failed)
        #expect(run.error?.hasPrefix("LDAP:") == true, "\(run.error ?? "")")
        #expect(run.error?.contains("Can't contact LDAP server") == true, "\(run.error ?? "")")
        #expect(try await snapshot(world, connection) == before)
        #expect(try await watermark(world, connection) == watermarkBefore)
        let recorded = try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.syncRuns(of: world.tenants[0]).get(run.id)
            }
        }
        #expect(recorded.status == .failed && recorded.error == run.error && recorded.finishedAt != nil)
    }

    func watermark(_ world: TestApp.World, _ connection: DirectoryConnection) async throws -> StoredWatermark? {
        try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directory(of: world.tenants[0]).watermark(connection.id)
            }
        }
    }
}

/// A count shared with a `@Sendable` callback.
final class Counter: Sendable {
    private let count = Mutex(0)

    /// Adds one and returns the new count.
    func increment() -> Int { count.withLock { $0 += 1; return $0 } }
    var value: Int { count.withLock { $0 } }
}
