import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import Foundation
import NIOPosix
import Testing

/// Schedulers and leases against the real Samba DC and PostgreSQL.
///
/// A scheduler claims any due connection of any tenant, so these tests run one at a time: each is the only one
/// with enabled connections while it runs (every other directory test makes disabled ones).
@Suite("Directory sync scheduling", .serialized)
struct DirectorySyncSchedulingTests {
    let domain = TestDomain()

    func engine(_ database: Database, owner: String) throws -> DirectorySyncEngine {
        try DirectorySyncEngine(
            database: database, sealer: TestDomain.sealer(), threadPool: .ldap, logger: TestApp.logger,
            leaseOwner: owner, destinations: TestApp.destinations
        )
    }

    func scheduler(_ database: Database, owner: String) throws -> DirectorySyncScheduler {
        DirectorySyncScheduler(
            database: database, engine: try engine(database, owner: owner), pollInterval: .seconds(1),
            logger: TestApp.logger
        )
    }

    /// What the engine records as it starts a run: the lease taken by `owner` and the run `running`.
    func startRun(
        _ world: TestApp.World, _ connection: DirectoryConnection, owner: String, lease: Duration
    ) async throws -> SyncRun {
        let tenant = world.tenants[0]
        let run = SyncRun(
            id: .random(), connectionID: connection.id, kind: .incremental, status: .running, trigger: .schedule,
            confirmsDeletions: false, startedAt: Date()
        )
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                let acquired = try await tx.directorySyncJobs.acquire(
                    tenant: tenant, connection: connection.id, owner: owner, lease: lease
                )
                try #require(acquired)
                try await tx.syncRuns(of: tenant).insert(run)
            }
        }
        return run
    }

    /// Lets `owner`'s lease run out: renewed for zero seconds, it has expired by the next transaction.
    func expireLease(_ world: TestApp.World, _ connection: DirectoryConnection, owner: String) async throws {
        let tenant = world.tenants[0]
        let renewed = try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directorySyncJobs.renew(
                    tenant: tenant, connection: connection.id, owner: owner, lease: .zero
                )
            }
        }
        #expect(renewed)
    }

    func storedRun(_ world: TestApp.World, _ id: SyncRunID) async throws -> SyncRun {
        try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.syncRuns(of: world.tenants[0]).get(id)
            }
        }
    }

    @Test("two schedulers never run the same connection at once, and a held lease keeps other syncs out")
    func schedulersShareWork() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "lease")
        _ = try await ldap.addUser("Erin", in: ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let connection = try await domain.makeConnection(tenant: tenant, msp: world.msp, base: ou, enabled: true)

        // Other tests' schedulers share the database and may claim this connection first: the runs it has,
        // whoever made them, are what must be one.
        try await TestApp.withOwner { database in
            let first = DirectorySyncScheduler(
                database: database, engine: try engine(database, owner: "scheduler-a"), pollInterval: .seconds(1),
                logger: TestApp.logger
            )
            let second = DirectorySyncScheduler(
                database: database, engine: try engine(database, owner: "scheduler-b"), pollInterval: .seconds(1),
                logger: TestApp.logger
            )
            async let a = first.runDueSyncs()
            async let b = second.runDueSyncs()
            _ = await a + b
        }
        var ours: [SyncRun] = []
        for _ in 0..<300 {
            ours = try await TestApp.withOwner { database in
                try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                    try await tx.syncRuns(of: tenant).list(connection: connection.id, after: nil, limit: 10)
                }
            }
            if !ours.isEmpty, !ours.contains(where: { $0.status == .running }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(ours.count == 1)
        #expect(ours.first?.status == .succeeded, "\(ours.first?.error ?? "")")
        #expect(ours.first?.trigger == .schedule)

        // Synced just now, so not due again; while "a" holds the lease, "b" may not sync.
        let (acquired, claimedAgain) = try await TestApp.withOwner { database in
            let acquired = try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directorySyncJobs.acquire(
                    tenant: tenant, connection: connection.id, owner: "scheduler-a", lease: .seconds(60)
                )
            }
            let claimed = try await database.withoutTenant(logger: TestApp.logger) { tx in
                try await tx.directorySyncJobs.claimDue(owner: "scheduler-c", lease: .seconds(60), limit: 1000)
            }
            return (acquired, claimed)
        }
        #expect(acquired)
        #expect(!claimedAgain.contains { $0.connectionID == connection.id })
        await #expect(throws: DirectorySyncError.alreadyRunning(connection.id)) {
            try await TestApp.withOwner { database in
                try await engine(database, owner: "scheduler-b").sync(
                    .init(tenantID: tenant, mspID: world.msp, connectionID: connection.id, kind: .full, trigger: .api)
                )
            }
        }
    }

    @Test("a second scheduler takes a connection over once the first one's lease has expired")
    func leaseTakeoverAfterExpiry() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "takeover")
        _ = try await ldap.addUser("Frank", in: ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(
            tenant: world.tenants[0], msp: world.msp, base: ou, enabled: true
        )
        // Scheduler "a" claimed the due connection, started its run and died without a word.
        let orphan = try await startRun(world, connection, owner: "scheduler-a", lease: .seconds(300))

        // While its lease lasts, nobody else syncs the connection and its run stays `running`.
        let early = try await TestApp.withOwner { database in
            try await scheduler(database, owner: "scheduler-b").runDueSyncs()
        }
        #expect(!early.contains { $0.connectionID == connection.id })
        #expect(try await storedRun(world, orphan.id).status == .running)

        try await expireLease(world, connection, owner: "scheduler-a")
        let runs = try await TestApp.withOwner { database in
            try await scheduler(database, owner: "scheduler-b").runDueSyncs()
        }
        let ours = runs.filter { $0.connectionID == connection.id }
        #expect(ours.count == 1)
        #expect(ours.first?.status == .succeeded, "\(ours.first?.error ?? "")")
        #expect(ours.first?.trigger == .schedule)
        let abandoned = try await storedRun(world, orphan.id)
        #expect(abandoned.status == .failed)
        #expect(abandoned.error == SyncRunRepository.abandonedMessage)
        #expect(abandoned.finishedAt != nil)

        // "b" released the lease with the next due time: a third scheduler finds nothing to do.
        let claimed = try await TestApp.withOwner { database in
            try await database.withoutTenant(logger: TestApp.logger) { tx in
                try await tx.directorySyncJobs.claimDue(owner: "scheduler-c", lease: .seconds(60), limit: 1000)
            }
        }
        #expect(!claimed.contains { $0.connectionID == connection.id })
    }

    @Test("a run left running past its lease is recorded as failed on the next scheduler pass; a live one is not")
    func abandonedRunsAreClosed() async throws {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, "abandoned")
        let world = try await TestApp.makeWorld(tenants: 1)
        // Disabled connections are never claimed: only the cleanup pass touches their runs.
        let dead = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        let alive = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        let deadRun = try await startRun(world, dead, owner: "crashed-replica", lease: .seconds(300))
        let aliveRun = try await startRun(world, alive, owner: "busy-replica", lease: .seconds(300))
        try await expireLease(world, dead, owner: "crashed-replica")

        let runs = try await TestApp.withOwner { database in
            try await scheduler(database, owner: "scheduler-d").runDueSyncs()
        }
        #expect(!runs.contains { [dead.id, alive.id].contains($0.connectionID) })
        let closed = try await storedRun(world, deadRun.id)
        #expect(closed.status == .failed)
        #expect(closed.error == SyncRunRepository.abandonedMessage)
        #expect(closed.finishedAt != nil)
        #expect(try await storedRun(world, aliveRun.id).status == .running)

        // The engine does the same for its own connection when it takes the lease, whoever asks for the sync.
        try await expireLease(world, alive, owner: "busy-replica")
        let run = try await TestApp.withOwner { database in
            try await engine(database, owner: "api").sync(
                .init(tenantID: world.tenants[0], mspID: world.msp, connectionID: alive.id, kind: .full, trigger: .api)
            )
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        #expect(try await storedRun(world, aliveRun.id).status == .failed)
    }
}
