import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// The bounds on one sync (deadline, object limit, no transaction across LDAP reads) and on how many run at once.
@Suite("Directory sync limits")
struct DirectorySyncLimitsTests {
    let domain = TestDomain()

    func engine(_ database: Database, limits: DirectorySyncEngine.Limits = .init()) throws -> DirectorySyncEngine {
        try DirectorySyncEngine(
            database: database, sealer: TestDomain.sealer(), threadPool: .ldap, logger: TestApp.logger,
            leaseOwner: "tests-\(UUID())", limits: limits, destinations: TestApp.destinations
        )
    }

    /// A tenant with a connection to a fresh OU holding a few objects.
    func fixture(_ prefix: String) async throws -> (TestApp.World, DirectoryConnection) {
        let ldap = try await domain.connect()
        let ou = try await domain.makeOU(ldap, prefix)
        let staff = try await ldap.addOU("Staff", in: ou)
        let alice = try await ldap.addUser("Alice", in: staff)
        _ = try await ldap.addGroup("Group", in: ou, members: [alice])
        let world = try await TestApp.makeWorld(tenants: 1)
        let connection = try await domain.makeConnection(tenant: world.tenants[0], msp: world.msp, base: ou)
        return (world, connection)
    }

    func request(_ world: TestApp.World, _ connection: DirectoryConnection) -> DirectorySyncEngine.Request {
        .init(tenantID: world.tenants[0], mspID: world.msp, connectionID: connection.id, kind: .full, trigger: .api)
    }

    func storedObjects(_ world: TestApp.World, _ connection: DirectoryConnection) async throws -> Int {
        try await TestApp.withOwner { database in
            try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directory(of: world.tenants[0]).entries(of: connection.id).count
            }
        }
    }

    @Test("a sync whose read passes the object limit fails with that reason and stores nothing")
    func objectLimit() async throws {
        let (world, connection) = try await fixture("limit")
        let run = try await TestApp.withOwner { database in
            try await engine(database, limits: .init(maximumObjects: 2)).sync(request(world, connection))
        }
        #expect(run.status == .failed)
        #expect(run.error?.contains("directory.sync.max_objects") == true, "\(run.error ?? "")")
        #expect(try await storedObjects(world, connection) == 0)
    }

    @Test("a sync past its deadline fails with that reason and stores nothing")
    func deadline() async throws {
        let (world, connection) = try await fixture("deadline")
        let run = try await TestApp.withOwner { database in
            try await engine(database, limits: .init(deadline: .nanoseconds(1))).sync(request(world, connection))
        }
        #expect(run.status == .failed)
        #expect(run.error?.contains("directory.sync.deadline_seconds") == true, "\(run.error ?? "")")
        #expect(try await storedObjects(world, connection) == 0)
    }

    @Test("no database transaction is open while the DC is read")
    func noTransactionAcrossLDAPReads() async throws {
        let (world, connection) = try await fixture("notx")
        let tenant = world.tenants[0]
        // A transaction staging the sync would hold the connection row (FOR KEY SHARE) while pages are read;
        // a FOR UPDATE NOWAIT from another session fails then.
        let lockedDuringRead = Mutex<[Bool]>([])
        let run = try await TestApp.withOwner { database in
            try await engine(database).sync(request(world, connection)) { _ in
                let locked: Bool
                do {
                    try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                        try await tx.query(
                            """
                            SELECT 1 FROM directory_connections
                            WHERE tenant_id = \(tenant.rawValue) AND id = \(connection.id.rawValue) FOR UPDATE NOWAIT
                            """
                        )
                    }
                    locked = false
                } catch {
                    locked = true
                }
                lockedDuringRead.withLock { $0.append(locked) }
            }
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        let observations = lockedDuringRead.withLock { $0 }
        #expect(!observations.isEmpty)
        #expect(!observations.contains(true))
    }

    @Test("a run the service shuts down before it works is recorded as failed with the reason")
    func shutdownFailsQueuedRun() async throws {
        let (world, connection) = try await fixture("shutdown")
        let run = try await TestApp.withOwner { database in
            let runner = DirectorySyncRunner(
                engine: try engine(database), maximumRuns: 2, maximumRunsPerTenant: 2, logger: TestApp.logger
            )
            let started = try await runner.start(request(world, connection))
            #expect(started.status == .running)
            let group = ServiceGroup(services: [runner], logger: TestApp.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            return try await database.withTenant(world.tenants[0], msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.syncRuns(of: world.tenants[0]).get(started.id)
            }
        }
        #expect(run.status == .failed)
        #expect(run.error?.contains("shut down") == true, "\(run.error ?? "")")
        #expect(try await storedObjects(world, connection) == 0)
    }

    @Test("a start over the tenant's limit answers 429 with Retry-After, one for a busy connection 409")
    func tenantLimit() async throws {
        let (world, busy) = try await fixture("busy")
        let tenant = world.tenants[0]
        let other = try await domain.makeConnection(tenant: tenant, msp: world.msp, base: try #require(busy.ldap).baseDN)
        // Another replica syncs `busy`.
        let acquired = try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directorySyncJobs.acquire(tenant: tenant, connection: busy.id, owner: "elsewhere", lease: .seconds(300))
            }
        }
        #expect(acquired)
        var config = TestApp.config
        config.kek = TestDomain.kek
        config.limits.syncRunsPerTenant = 1
        try await TestApp.run(config) { client in
            let base = "/v1/tenants/\(tenant)/directory/connections"
            let overLimit = try await client.call(.post, "\(base)/\(other.id)/sync", key: world.tenantKeys[0], body: "{}")
            expectProblem(overLimit, 429)
            #expect(overLimit.headers[.retryAfter] == "30")
            #expect(overLimit.json["code"] as? String == "too-many-requests")
            let busyAgain = try await client.call(.post, "\(base)/\(busy.id)/sync", key: world.tenantKeys[0], body: "{}")
            expectProblem(busyAgain, 409)
        }
    }
}
