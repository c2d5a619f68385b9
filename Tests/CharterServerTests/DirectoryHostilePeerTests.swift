import CharterCore
import CharterDirectory
import CharterServer
import CharterServices
import CharterStore
import Foundation
import Testing

/// Directory syncs against LDAP servers that misbehave (issue 14, item 7): each run fails with a category
/// within the configured timeout, stores nothing, and the engine syncs a real DC right afterwards.
@Suite("Directory sync against hostile servers")
struct DirectoryHostilePeerTests {
    let domain = TestDomain()

    @Test(
        "a server that never answers the bind, answers with malformed BER, sends a 10 MB value or pages slowly fails cleanly",
        arguments: [
            ("ldap-silent", "LDAP: bind failed: "), ("ldap-malformed", "LDAP: bind failed: "),
            ("ldap-huge", "Active Directory: "), ("ldap-slow", "LDAP: search failed: "),
        ]
    )
    func hostileServer(mode: String, category: String) async throws {
        let peer = try await HostilePeer.start(mode)
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let hostile = try await domain.makeConnection(
            tenant: tenant, msp: world.msp, base: domain.baseDN, urls: ["ldap://127.0.0.1:\(peer.port)"]
        )
        let clock = ContinuousClock()
        let (run, elapsed, entries) = try await TestApp.withService { database in
            let engine = try DirectorySyncEngine(
                database: database, sealer: TestDomain.sealer(), threadPool: .ldap, logger: TestApp.logger,
                destinations: TestApp.destinations, operationTimeout: .seconds(2)
            )
            let started = clock.now
            let run = try await engine.sync(
                .init(tenantID: tenant, mspID: world.msp, connectionID: hostile.id, kind: .full, trigger: .api)
            )
            let elapsed = clock.now - started
            let entries = try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                try await tx.directory(of: tenant).entries(of: hostile.id)
            }
            return (run, elapsed, entries)
        }
        #expect(run.status == .failed)
        #expect(run.error?.hasPrefix(category) == true, "\(run.error ?? "")")
        #expect(entries.isEmpty)
        // Without timeouts a silent server would hold the sync for ever; the bound leaves room for a loaded
        // machine.
        #expect(elapsed < .seconds(30))

        let ldap = try await domain.connect()
        defer { ldap.close() }
        let ou = try await domain.makeOU(ldap, "after-hostile")
        let real = try await domain.makeConnection(tenant: tenant, msp: world.msp, base: ou)
        let healthy = try await TestApp.withService { database in
            try await DirectorySyncEngine(
                database: database, sealer: TestDomain.sealer(), threadPool: .ldap, logger: TestApp.logger,
                destinations: TestApp.destinations, operationTimeout: .seconds(30)
            ).sync(.init(tenantID: tenant, mspID: world.msp, connectionID: real.id, kind: .full, trigger: .api))
        }
        #expect(healthy.status == .succeeded, "\(healthy.error ?? "")")
    }
}
