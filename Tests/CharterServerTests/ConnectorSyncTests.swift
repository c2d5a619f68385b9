import CharterAgentWire
import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import CompressNIO
import Crypto
import Foundation
import NIOCore
import PostgresNIO
import Testing

/// One sync engine, two transports: runs of `connector` connections driven end to end against the real Samba DC
/// and PostgreSQL, the site's part played by ``TestSite`` through ``ConnectorSyncService``.
@Suite("Connector sync")
struct ConnectorSyncTests {
    let domain = TestDomain()
    let direct = DirectorySyncTests()

    func engine(
        _ database: Database, limits: DirectorySyncEngine.Limits = .init(), pages: ConnectorPageCache = .init()
    ) throws -> DirectorySyncEngine {
        try DirectorySyncEngine(
            database: database, sealer: TestDomain.sealer(), threadPool: .ldap, logger: TestApp.logger,
            leaseOwner: "tests-\(UUID())", limits: limits, destinations: TestApp.destinations, connectorPages: pages
        )
    }

    /// Runs one sync of `connection` while `site` plays the connector's part with the run's id.
    func sync(
        _ world: TestApp.World, _ connection: DirectoryConnection, _ kind: SyncRun.Kind = .full, confirm: Bool = false,
        limits: DirectorySyncEngine.Limits = .init(), pages: ConnectorPageCache = .init(),
        site: @escaping @Sendable (SyncRunID) async throws -> Void
    ) async throws -> SyncRun {
        try await TestApp.withOwner { database in
            let engine = try engine(database, limits: limits, pages: pages)
            let started = try await engine.begin(
                .init(
                    tenantID: world.tenants[0], mspID: world.msp, connectionID: connection.id, kind: kind,
                    trigger: .api, confirmsDeletions: confirm
                )
            )
            return try await withThrowingTaskGroup(of: SyncRun?.self) { group in
                group.addTask { try await engine.run(started) }
                group.addTask {
                    try await site(started.run.id)
                    return nil
                }
                var finished: SyncRun?
                for try await result in group where result != nil { finished = result }
                return try #require(finished)
            }
        }
    }

    /// A tenant with one connector, leased, serving a `connector` connection; the OU populated.
    func fixture(
        _ prefix: String, threshold: DeletionThreshold = .init(objects: 100, percent: 100)
    ) async throws -> (world: TestApp.World, connection: DirectoryConnection, site: TestSite, ou: String, dns: [String: String]) {
        let ldap = try await domain.connect()
        defer { ldap.close() }
        let ou = try await domain.makeOU(ldap, prefix)
        let dns = try await direct.populate(ldap, ou)
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let connector = try await TestConnectors.enroll("Site A connector 1", tenant: tenant, msp: world.msp, lastSeen: Date())
        let connection = try await TestConnectors.makeConnection(
            tenant: tenant, msp: world.msp, connectors: [connector], threshold: threshold
        )
        try await TestConnectors.lease(connection.id, to: connector, tenant: tenant, msp: world.msp)
        let site = TestSite(connector: try await TestConnectors.authenticated(connector), domain: domain, base: ou)
        return (world, connection, site, ou, dns)
    }

    @Test("full and incremental syncs through a connector store what a direct sync of the same DC stores")
    func equalsDirectSync() async throws {
        let (world, connection, site, ou, dns) = try await fixture("conn")
        let tenant = world.tenants[0]
        let full = try await sync(world, connection, site: site.serve)
        #expect(full.status == .succeeded, "\(full.error ?? "")")
        #expect(full.kind == .full)
        let directConnection = try await domain.makeConnection(
            tenant: tenant, msp: world.msp, base: ou, threshold: .init(objects: 100, percent: 100)
        )
        #expect(try await direct.sync(world, directConnection).status == .succeeded)
        #expect(try await direct.snapshot(world, connection) == direct.snapshot(world, directConnection))

        // Changes at the site: an add, a modification, a move, a deletion, a membership.
        let ldap = try await domain.connect()
        defer { ldap.close() }
        let dave = try await ldap.addUser("Dave", in: try #require(dns["sales"]))
        try await ldap.modify(try #require(dns["bob"]), [LDAPModification(.replace, "displayName", ["Robert"])])
        try await ldap.rename(try #require(dns["alice"]), newRDN: "CN=Alice", newParent: try #require(dns["staff"]))
        try await ldap.delete(try #require(dns["lonely"]))
        try await ldap.modify(try #require(dns["g3"]), [LDAPModification(.add, "member", [dave])])

        let incremental = try await sync(world, connection, .incremental, site: site.serve)
        #expect(incremental.status == .succeeded, "\(incremental.error ?? "")")
        #expect(incremental.kind == .incremental)
        #expect(incremental.counts.byKind["user"]?.added == 1)
        #expect(incremental.counts.byKind["group"]?.deleted == 1)
        #expect(try await direct.sync(world, directConnection, .incremental).status == .succeeded)
        #expect(try await direct.snapshot(world, connection) == direct.snapshot(world, directConnection))
        // The pages of a finished run are not kept; its status still says how many there were.
        let status = try await TestConnectors.withService { service in
            try await service.status(of: incremental.id, for: site.connector, logger: TestApp.logger)
        }
        #expect(status.status == "succeeded")
        #expect(status.pagesReceived >= 1)
    }

    @Test("the deletion guard holds a connector run for confirmation; confirmed, it applies")
    func deletionGuard() async throws {
        let (world, connection, site, _, dns) = try await fixture("conn-guard", threshold: .init(objects: 1, percent: 100))
        #expect(try await sync(world, connection, site: site.serve).status == .succeeded)
        let before = try await direct.snapshot(world, connection)
        let ldap = try await domain.connect()
        defer { ldap.close() }
        try await ldap.delete(try #require(dns["lonely"]))
        try await ldap.delete(try #require(dns["carol"]))

        let held = try await sync(world, connection, .full, site: site.serve)
        #expect(held.status == .needsConfirmation)
        #expect(held.pendingDeletions == 2)
        #expect(try await direct.snapshot(world, connection) == before)
        let confirmed = try await sync(world, connection, .full, confirm: true, site: site.serve)
        #expect(confirmed.status == .succeeded, "\(confirmed.error ?? "")")
        #expect(try await direct.snapshot(world, connection).entries.count == before.entries.count - 2)
    }

    @Test("with no connector online the run fails after the grace, saying since when each was last seen")
    func noConnectorOnline() async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let seen = Date(timeIntervalSince1970: 1_796_637_482)
        let one = try await TestConnectors.enroll("Site A connector 1", tenant: tenant, msp: world.msp, lastSeen: seen)
        let two = try await TestConnectors.enroll("Site A connector 2", tenant: tenant, msp: world.msp)
        let connection = try await TestConnectors.makeConnection(tenant: tenant, msp: world.msp, connectors: [one, two])
        // A lease that ran out is no one's.
        try await TestConnectors.lease(connection.id, to: one, tenant: tenant, msp: world.msp, seconds: -1)
        let clock = ContinuousClock()
        let started = clock.now
        let run = try await sync(world, connection, limits: .init(connectorGrace: .seconds(1))) { _ in }
        #expect(clock.now - started < .seconds(10))
        #expect(run.status == .failed)
        #expect(
            run.error
                == #"no connector online: "Site A connector 1" last seen 2026-12-07T09:58:02Z, "Site A connector 2" never seen"#
        )
    }

    @Test("a connector that goes silent mid-run: the run fails as offline after the grace, not at its deadline")
    func silentMidRun() async throws {
        let (world, connection, site, _, _) = try await fixture("conn-silent")
        let clock = ContinuousClock()
        let started = clock.now
        let run = try await sync(world, connection, limits: .init(connectorGrace: .seconds(1))) { run in
            _ = try await site.awaitRun(run)
            // The connector took the run and then stopped heartbeating: its lease runs out and nobody takes it.
            try await TestConnectors.lease(
                connection.id, to: site.connector.connector, tenant: world.tenants[0], msp: world.msp, seconds: -1
            )
        }
        #expect(clock.now - started < .seconds(20))
        #expect(run.status == .failed)
        #expect(run.error?.hasPrefix(#"no connector online: "Site A connector 1" last seen "#) == true, "\(run.error ?? "")")
        #expect(try await direct.snapshot(world, connection).entries.isEmpty)
    }

    @Test("an error at the site fails the run with the connector's name and the error")
    func siteError() async throws {
        let (world, connection, site, _, _) = try await fixture("conn-fail")
        let run = try await sync(world, connection) { run in
            _ = try await site.awaitRun(run)
            let answer = try await TestConnectors.withService { service in
                try await service.fail(
                    run, with: ConnectorRunFailure(error: "LDAP: bind failed: invalid credentials"), by: site.connector,
                    logger: TestApp.logger
                )
            }
            #expect(answer.status == "failed")
        }
        #expect(run.status == .failed)
        #expect(run.error == #"connector "Site A connector 1": LDAP: bind failed: invalid credentials"#)
        #expect(try await direct.snapshot(world, connection).entries.isEmpty)
    }

    @Test("when the lease moves mid-run the run goes to the new connector; the old one's uploads are refused")
    func takeover() async throws {
        let (world, connection, first, ou, _) = try await fixture("conn-move")
        let tenant = world.tenants[0]
        let secondID = try await TestConnectors.enroll("Site A connector 2", tenant: tenant, msp: world.msp, lastSeen: Date())
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                var moved = connection
                moved.transport = .connector([connection.connectorIDs[0], secondID])
                _ = try await tx.directoryConnections(of: tenant).update(moved, expectedVersion: nil)
            }
        }
        let second = TestSite(connector: try await TestConnectors.authenticated(secondID), domain: domain, base: ou)
        let run = try await sync(world, connection) { run in
            let upload = try await first.read(try await first.awaitRun(run))
            #expect(try await first.upload(upload.pages[0], number: 1, of: run).pagesReceived == 1)
            // The first connector goes silent; the second one's heartbeat takes the lease.
            try await TestConnectors.lease(connection.id, to: secondID, tenant: tenant, msp: world.msp)
            let handed = try await second.awaitRun(run)
            #expect(handed.pagesReceived == 0)
            await #expect(throws: ConnectorRunError.runClosed) {
                try await first.upload(upload.pages[0], number: 2, of: run)
            }
            await #expect(throws: ConnectorRunError.runClosed) { try await first.complete(run, upload.completion) }
            try await second.serve(run)
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        #expect(try await direct.snapshot(world, connection).entries.count > 5)
    }

    @Test("hostile pages get a clear refusal and store nothing; a replay of the same page is accepted")
    func hostilePages() async throws {
        let (world, connection, site, _, _) = try await fixture("conn-hostile")
        let tenant = world.tenants[0]
        // Another tenant's connector, and a connector of this tenant that does not serve the connection.
        let otherWorld = try await TestApp.makeWorld(tenants: 1)
        let stranger = try await TestConnectors.authenticated(
            try await TestConnectors.enroll("Elsewhere", tenant: otherWorld.tenants[0], msp: otherWorld.msp)
        )
        let bystander = try await TestConnectors.authenticated(
            try await TestConnectors.enroll("Bystander", tenant: tenant, msp: world.msp)
        )
        let run = try await sync(world, connection) { run in
            let upload = try await site.read(try await site.awaitRun(run))
            let page = try TestSite.gzip(upload.pages[0])
            func put(
                _ body: ByteBuffer, number: Int = 1, gzip: Bool = true, as connector: AuthenticatedConnector = site.connector
            ) async throws -> DirectoryPageReceipt {
                try await TestConnectors.withService { service in
                    try await service.uploadPage(number, of: run, body: body, isGzip: gzip, by: connector, logger: TestApp.logger)
                }
            }
            await #expect(throws: ConnectorRunError.malformed("The page is not valid JSON.", field: nil)) {
                try await put(ByteBuffer(string: "{\"objects\": ["), gzip: false)
            }
            await #expect(throws: ConnectorRunError.self) {
                try await put(ByteBuffer(string: #"{"objects": [{"guid": "8d1f…"}], "deleted": []}"#), gzip: false)
            }
            var bombBytes = ByteBuffer(repeating: UInt8(ascii: " "), count: ConnectorPageCodec.maximumBytes + 1)
            let bomb = try bombBytes.compress(with: .gzip())
            await #expect(throws: ConnectorRunError.tooLarge("A page may have at most 67108864 bytes decompressed.")) {
                try await put(bomb)
            }
            await #expect(throws: ConnectorRunError.notFound) { try await put(page, as: stranger) }
            await #expect(throws: ConnectorRunError.notFound) { try await put(page, as: bystander) }
            #expect(try await TestConnectors.withService { service in
                try await service.status(of: run, for: site.connector, logger: TestApp.logger)
            }.pagesReceived == 0)

            #expect(try await put(page).pagesReceived == 1)
            #expect(try await put(page).pagesReceived == 1)
            var other = upload.pages[0]
            other.objects[0].name = "Mallory"
            await #expect(throws: ConnectorRunError.pageConflict(1)) { try await put(try TestSite.gzip(other)) }
            var early = upload.completion
            early.pages = upload.pages.count + 1
            await #expect(throws: ConnectorRunError.pagesMissing(Array(2...early.pages))) {
                try await site.complete(run, early)
            }
            for (index, page) in upload.pages.enumerated().dropFirst() {
                _ = try await site.upload(page, number: index + 1, of: run)
            }
            #expect(try await site.complete(run, upload.completion).status == "applying")
            #expect(try await site.complete(run, upload.completion).status != "running")
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        let names = try await direct.snapshot(world, connection).entries.map(\.name)
        #expect(!names.contains("Mallory"))
    }

    @Test("an incremental upload that does not continue the watermark fails the run and stores nothing")
    func watermarkNotContinued() async throws {
        let (world, connection, site, _, _) = try await fixture("conn-mark")
        #expect(try await sync(world, connection, site: site.serve).status == .succeeded)
        let before = try await direct.snapshot(world, connection)
        let run = try await sync(world, connection, .incremental) { run in
            let assignment = try await site.awaitRun(run)
            #expect(assignment.kind == .incremental)
            var upload = try await site.read(assignment)
            upload.completion.domainController.invocationID = UUID()
            for (index, page) in upload.pages.enumerated() { _ = try await site.upload(page, number: index + 1, of: run) }
            _ = try await site.complete(run, upload.completion)
        }
        #expect(run.status == .failed)
        #expect(run.error == "the connector's incremental read does not continue the stored watermark")
        #expect(try await direct.snapshot(world, connection) == before)
        // The next run asks for a full read.
        let next = try await sync(world, connection, .incremental) { run in
            let assignment = try await site.awaitRun(run)
            #expect(assignment.kind == .full)
            #expect(assignment.watermark == nil)
            try await site.serve(run)
        }
        #expect(next.status == .succeeded, "\(next.error ?? "")")
        #expect(next.kind == .full)
    }

    @Test("a connector's read beyond the engine's object limit fails the run")
    func objectLimit() async throws {
        let (world, connection, site, _, _) = try await fixture("conn-limit")
        let run = try await sync(world, connection, limits: .init(maximumObjects: 3), site: site.serve)
        #expect(run.status == .failed)
        #expect(run.error?.contains("more than 3 objects") == true, "\(run.error ?? "")")
    }

    /// Uploads every page of `upload` through a service that keeps what it decoded in `pages`.
    static func upload(_ upload: TestSite.Upload, of run: SyncRunID, by site: TestSite, pages: ConnectorPageCache) async throws {
        try await TestApp.withService { database in
            let service = ConnectorSyncService(database: database, pageCache: pages)
            for (index, page) in upload.pages.enumerated() {
                _ = try await service.uploadPage(
                    index + 1, of: run, body: try TestSite.gzip(page), isGzip: true, by: site.connector, logger: TestApp.logger
                )
            }
        }
    }

    /// Replaces the stored body (gzip) and digest of page `number` of `run`, as nothing in the protocol can.
    static func replacePage(
        _ number: Int, of run: SyncRunID, body: ByteBuffer, sha256: Data, tenant: TenantID, msp: MSPID
    ) async throws {
        try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: msp, logger: TestApp.logger) { tx in
                try await tx.query(
                    """
                    UPDATE connector_upload_pages SET body = \(Data(body.readableBytesView)), sha256 = \(sha256)
                    WHERE run_id = \(run.rawValue) AND page = \(Int32(number))
                    """
                )
            }
        }
    }

    @Test("a page the upload route checked is merged without decoding it again, found by its stored digest")
    func decodedOnce() async throws {
        let (world, connection, site, _, _) = try await fixture("conn-once")
        let pages = ConnectorPageCache()
        let run = try await sync(world, connection, pages: pages) { run in
            let upload = try await site.read(try await site.awaitRun(run))
            try await Self.upload(upload, of: run, by: site, pages: pages)
            #expect(pages.count == upload.pages.count)
            // The stored bytes of page 1 no longer decode; its digest is the one checked on upload.
            let digest = try #require(pages.decoded(page: 1, sha256: Self.sha256(upload.pages[0]), of: run, tenant: world.tenants[0])).sha256
            try await Self.replacePage(
                1, of: run, body: ByteBuffer(string: "not gzip"), sha256: digest, tenant: world.tenants[0], msp: world.msp
            )
            _ = try await site.complete(run, upload.completion)
        }
        #expect(run.status == .succeeded, "\(run.error ?? "")")
        #expect(try await direct.snapshot(world, connection).entries.count > 0)
        #expect(pages.count == 0, "the run's pages are dropped with its upload")
    }

    @Test(
        "a page replaced after it was checked is decoded and checked again: a forged page fails the run and stores nothing",
        arguments: [false, true]
    )
    func replacedPage(keepsDigest: Bool) async throws {
        let (world, connection, site, _, _) = try await fixture("conn-replaced")
        let tenant = world.tenants[0]
        let before = try await direct.snapshot(world, connection)
        let pages = ConnectorPageCache()
        let run = try await sync(world, connection, pages: pages) { run in
            let upload = try await site.read(try await site.awaitRun(run))
            try await Self.upload(upload, of: run, by: site, pages: pages)
            var forged = upload.pages[0]
            let digest: Data
            if keepsDigest {
                // A page that passes every rule, stored under the digest of the page checked on upload, in a process
                // that did not check it (another replica): its JSON does not have that digest.
                forged.objects[0].name = "Mallory"
                digest = try Self.sha256(upload.pages[0])
                pages.discard(run: run, tenant: tenant)
            } else {
                // A page the upload route would refuse (a kind the protocol does not have), under its own digest.
                forged.objects[0].kind = "printer"
                digest = try Self.sha256(forged)
            }
            try await Self.replacePage(1, of: run, body: try TestSite.gzip(forged), sha256: digest, tenant: tenant, msp: world.msp)
            _ = try await site.complete(run, upload.completion)
        }
        #expect(run.status == .failed)
        #expect(run.error?.contains("page 1 of the connector's upload cannot be read") == true, "\(run.error ?? "")")
        #expect(try await direct.snapshot(world, connection) == before)
    }

    static func sha256(_ page: DirectoryPage) throws -> Data {
        Data(SHA256.hash(data: try TestSite.json(page)))
    }
}
