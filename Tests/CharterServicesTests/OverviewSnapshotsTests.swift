import CharterCore
import CharterServices
import Foundation
import Synchronization
import Testing

/// The overview's snapshot rule without a database: a read is a counter, the clock is pinned.
@Suite("Overview snapshots")
struct OverviewSnapshotsTests {
    /// A pinned clock and a read that counts its calls, each returning a snapshot named by its number.
    final class World: Sendable {
        let clock = Mutex(Date(timeIntervalSince1970: 1_800_000_000))
        let reads = Mutex(0)

        var now: Date { clock.withLock { $0 } }

        func advance(_ seconds: TimeInterval) { clock.withLock { $0 += seconds } }

        /// A read that takes `delay` and returns a snapshot of one tenant whose name is the read's number.
        func read(delay: Duration = .zero) -> @Sendable () async throws -> OverviewSnapshots.Snapshot {
            { [self] in
                let number = reads.withLock { count in
                    count += 1
                    return count
                }
                let readAt = now
                try await Task.sleep(for: delay)
                return OverviewSnapshots.Snapshot(tenants: [Self.tenant(named: "\(number)")], readAt: readAt)
            }
        }

        static func tenant(named name: String) -> TenantOverview {
            TenantOverview(
                tenant: TenantID(UUID()), name: name, devices: .init(total: 0, online: 0, stale: 0, behind: 0),
                directory: .init(connections: 0, failed: 0, held: 0, lastRun: nil), pendingRequests: 0,
                auditChain: .unverified
            )
        }
    }

    static let msp = MSPID(UUID())

    static func name(_ snapshot: OverviewSnapshots.Snapshot) -> String? { snapshot.tenants.first?.name }

    @Test("served while younger than half the age; refreshed behind the answer up to the age; never served older")
    func ages() async throws {
        let world = World()
        let snapshots = OverviewSnapshots(maxAge: 30, now: { world.now })
        #expect(Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read())) == "1")
        world.advance(14)
        #expect(Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read())) == "1")
        #expect(world.reads.withLock { $0 } == 1)
        // Past half the age: still the old figures, and one refresh starts behind the answer.
        world.advance(2)
        #expect(Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read())) == "1")
        var refreshed: String?
        for _ in 0..<200 where refreshed != "2" {
            try await Task.sleep(for: .milliseconds(10))
            refreshed = Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read()))
        }
        #expect(refreshed == "2")
        #expect(world.reads.withLock { $0 } == 2)
        // Past the whole age: the request waits for a new read.
        world.advance(30)
        #expect(Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read())) == "3")
    }

    @Test("requests that find no snapshot share one read; each MSP and stale_after has its own")
    func sharedRead() async throws {
        let world = World()
        let snapshots = OverviewSnapshots(maxAge: 30, now: { world.now })
        let names = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    Self.name(
                        try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read(delay: .milliseconds(50)))
                    )
                }
            }
            return try await group.reduce(into: Set<String?>()) { $0.insert($1) }
        }
        #expect(names == ["1"])
        #expect(world.reads.withLock { $0 } == 1)
        #expect(Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 86_400, read: world.read())) == "2")
        #expect(Self.name(try await snapshots.snapshot(of: MSPID(UUID()), staleAfter: 600, read: world.read())) == "3")
    }

    @Test("a failed read is not kept: the next request reads again")
    func failedRead() async throws {
        struct Unreachable: Error {}
        let world = World()
        let snapshots = OverviewSnapshots(maxAge: 30, now: { world.now })
        await #expect(throws: Unreachable.self) {
            try await snapshots.snapshot(of: Self.msp, staleAfter: 600) { throw Unreachable() }
        }
        #expect(Self.name(try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read())) == "1")
    }

    @Test("beyond the capacity the least recently read snapshot is dropped")
    func capacity() async throws {
        let world = World()
        let snapshots = OverviewSnapshots(maxAge: 30, capacity: 2, now: { world.now })
        for staleAfter in [600.0, 700, 800] {
            _ = try await snapshots.snapshot(of: Self.msp, staleAfter: staleAfter, read: world.read())
            world.advance(1)
        }
        #expect(world.reads.withLock { $0 } == 3)
        // 700 and 800 are kept; 600 was dropped and is read again.
        _ = try await snapshots.snapshot(of: Self.msp, staleAfter: 800, read: world.read())
        #expect(world.reads.withLock { $0 } == 3)
        _ = try await snapshots.snapshot(of: Self.msp, staleAfter: 600, read: world.read())
        #expect(world.reads.withLock { $0 } == 4)
    }
}
