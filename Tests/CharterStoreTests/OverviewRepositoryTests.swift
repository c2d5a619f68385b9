import CharterCore
import CharterStore
import Foundation
import PostgresNIO
import Testing

/// `charter_private.msp_overview` (migration 0022) against the real database, as the service reads it: in an MSP
/// transaction, no tenant selected.
@Suite("MSP overview figures")
struct OverviewRepositoryTests {
    static let now = TenantFixture.now
    static let onlineSince = now.addingTimeInterval(-600)
    static let staleBefore = now.addingTimeInterval(-7 * 86_400)

    static func overview(_ fixture: TenantFixture, only: Set<TenantID>? = nil) async throws -> [TenantID: TenantOverview] {
        try await TestDatabase.withService { database in
            let tenants = try await database.withMSP(fixture.msp, logger: TestDatabase.logger) { tx in
                try await tx.overview.tenants(onlineSince: onlineSince, staleBefore: staleBefore, only: only)
            }
            return Dictionary(uniqueKeysWithValues: tenants.map { ($0.tenant, $0) })
        }
    }

    static func bundle(version: Int64, at position: Int64) -> StoredBundle {
        StoredBundle(
            version: version, contentHash: Data(repeating: UInt8(version), count: 32), feedSequence: position,
            keyState: "k", issuedAt: now, refreshAfter: now.addingTimeInterval(3600),
            expiresAt: now.addingTimeInterval(7200), compact: "jwe"
        )
    }

    @Test("devices are counted online, stale and behind; revoked and unapproved devices are not counted")
    func devices() async throws {
        let fixture = try await TenantFixture.make()
        let tenant = fixture.tenant
        let current = try await fixture.enroll()  // checked in now, holds its current bundle
        let away = try await fixture.enroll()  // last seen 8 days ago, holds its current bundle
        let unfetched = try await fixture.enroll()  // seen an hour ago, never fetched a bundle
        let unacknowledged = try await fixture.enroll()  // fetched version 2, still reports holding 1
        _ = try await fixture.enroll(pending: true)
        let revoked = try await fixture.enroll()
        let now = Self.now
        try await fixture.inTenant { tx in
            let position = try await tx.changeFeed.bundlePosition(of: tenant)
            let checkIns: [(Device, Date, Int64?)] = [
                (current, now, 1), (away, now.addingTimeInterval(-8 * 86_400), 1),
                (unfetched, now.addingTimeInterval(-3600), nil), (unacknowledged, now, 1),
            ]
            for (device, seen, held) in checkIns {
                _ = try await tx.devices.checkIn(
                    tenant, id: device.id, agentVersion: "1.0.0", heldVersion: held, users: [], at: seen
                )
            }
            try await tx.deviceBundles.put([(current.id, Self.bundle(version: 1, at: position))], tenant: tenant)
            try await tx.deviceBundles.put([(away.id, Self.bundle(version: 1, at: position))], tenant: tenant)
            try await tx.deviceBundles.put([(unacknowledged.id, Self.bundle(version: 2, at: position))], tenant: tenant)
            _ = try await tx.devices.revoke(tenant, id: revoked.id, at: now)
        }
        let before = try #require(try await Self.overview(fixture)[tenant])
        #expect(before.devices == .init(total: 4, online: 2, stale: 1, behind: 2))
        #expect(before.reasons == [.devicesStale, .devicesBehind])

        // A change that reaches every device (a directory sync, a key rotation): those that have not fetched since
        // are behind; a change naming one device is not.
        try await fixture.inTenant { tx in
            _ = try await tx.changeFeed.append(tenant, event: .bundle, devices: [current.id], data: #"{"reason":"device"}"#)
        }
        #expect(try await Self.overview(fixture)[tenant]?.devices.behind == 2)
        try await fixture.inTenant { tx in
            _ = try await tx.changeFeed.append(tenant, event: .bundle, devices: nil, data: #"{"reason":"directory"}"#)
        }
        #expect(try await Self.overview(fixture)[tenant]?.devices.behind == 4)
        // A device whose bundle is confirmed unchanged at the new position is current again (the position is
        // copied onto the device row, migration 0022).
        try await fixture.inTenant { tx in
            let position = try await tx.changeFeed.bundlePosition(of: tenant)
            try await tx.deviceBundles.confirm(tenant, devices: [current.id], feedSequence: position, keyState: "k")
        }
        #expect(try await Self.overview(fixture)[tenant]?.devices.behind == 3)

        let other = try #require(try await Self.overview(fixture)[fixture.tenants[1]])
        #expect(other.devices == .init(total: 0, online: 0, stale: 0, behind: 0))
        #expect(other.reasons.isEmpty)
        #expect(other.auditChain == .unverified)
    }

    @Test("syncs count the enabled connections whose latest finished run failed or waits for confirmation")
    func syncs() async throws {
        let fixture = try await TenantFixture.make()
        let tenant = fixture.tenant
        let msp = fixture.msp
        var connections: [DirectoryConnection] = []
        for (index, enabled) in [true, true, true, false].enumerated() {
            connections.append(
                DirectoryConnection(
                    id: .random(), tenantID: tenant, name: "Connection \(index)", urls: ["ldap://127.0.0.2"],
                    baseDN: "dc=example", bindDN: "cn=reader", sealedPassword: "not sealed: never opened here",
                    tlsMode: .plain, caPEM: nil, interval: .seconds(3600), isEnabled: enabled, createdAt: Self.now,
                    updatedAt: Self.now
                )
            )
        }
        // Each connection's runs, oldest first: the latest finished one counts; a run still going does not.
        let runs: [[String]] = [
            ["succeeded", "failed", "running"],  // failed
            ["failed", "needs_confirmation"],  // held
            ["failed", "succeeded"],  // fine
            ["failed"],  // disabled: not counted
        ]
        let connectionList = connections
        try await fixture.inTenant { tx in
            for (index, (connection, statuses)) in zip(connectionList, runs).enumerated() {
                try await tx.directoryConnections(of: tenant).create(connection, msp: msp)
                for (age, status) in statuses.reversed().enumerated() {
                    let started = Self.now.addingTimeInterval(TimeInterval(-60 * (age + 1) - index))
                    let finished: Date? = status == "running" ? nil : started.addingTimeInterval(5)
                    try await tx.query(
                        """
                        INSERT INTO directory_sync_runs (tenant_id, id, connection_id, kind, status, trigger, started_at,
                            finished_at)
                        VALUES (\(tenant.rawValue), \(UUID()), \(connection.id.rawValue), 'full', \(status), 'schedule',
                            \(started), \(finished))
                        """
                    )
                }
            }
        }
        let overview = try #require(try await Self.overview(fixture)[tenant])
        #expect(overview.directory.connections == 3)
        #expect(overview.directory.failed == 1)
        #expect(overview.directory.held == 1)
        // The most recent run of any connection: the first connection's, still running.
        #expect(overview.directory.lastRun?.status == "running")
        #expect(overview.directory.lastRun?.finishedAt == nil)
        #expect(overview.reasons == [.syncHeld, .syncFailed])
    }

    @Test("pending requests are counted per tenant, decided ones are not")
    func pendingRequests() async throws {
        let fixture = try await TenantFixture.make()
        let tenant = fixture.tenant
        let device = try await fixture.enroll()
        try await fixture.inTenant { tx in
            for status in ["pending", "pending", "approved", "denied", "allowed"] {
                try await tx.query(
                    """
                    INSERT INTO elevation_requests (tenant_id, id, device_id, kind, hostname, status, logged,
                        policy_source, decision_reason, created_at, expires_at)
                    VALUES (\(tenant.rawValue), \(UUID()), \(device.id.rawValue), 'run_as_admin', 'PC', \(status), true,
                        'global', 'test', \(Self.now), \(Self.now.addingTimeInterval(3600)))
                    """
                )
            }
        }
        let overview = try await Self.overview(fixture)
        #expect(overview[tenant]?.pendingRequests == 2)
        // The requests' device has fetched no bundle yet, so it is behind as well.
        #expect(overview[tenant]?.reasons == [.requestsPending, .devicesBehind])
        #expect(overview[fixture.tenants[1]]?.pendingRequests == 0)
    }

    @Test("only the MSP's tenants are read, narrowed to the ones asked for")
    func scope() async throws {
        let fixture = try await TenantFixture.make()
        let stranger = try await TenantFixture.make()
        let all = try await Self.overview(fixture)
        #expect(Set(all.keys) == Set(fixture.tenants))
        let one = try await Self.overview(fixture, only: [fixture.tenants[1], stranger.tenants[0]])
        #expect(Set(one.keys) == [fixture.tenants[1]])
        #expect(try await Self.overview(fixture, only: []).isEmpty)
        // Without an MSP selected, nothing.
        let none = try await TestDatabase.withService { database in
            try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                try await tx.overview.tenants(onlineSince: Self.onlineSince, staleBefore: Self.staleBefore, only: nil)
            }
        }
        #expect(none.isEmpty)
    }
}
