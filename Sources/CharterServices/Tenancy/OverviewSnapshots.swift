package import CharterCore
package import Foundation

/// The MSP overview's figures as last read, per MSP and `stale_after`, so that a dashboard's requests do not each
/// read every device of the MSP (docs/operations-overview.md, "How it is read").
///
/// A snapshot is served while it is younger than ``maxAge``; a request that finds it older than half of that
/// starts one refresh in the background and is still answered from it; one older than ``maxAge`` is never
/// served: the request waits for a refresh. Requests that need the same refresh share it (one read per MSP and
/// `stale_after` at a time), and at most ``capacity`` snapshots are kept, the least recently read dropped first.
package actor OverviewSnapshots {
    /// Every tenant's figures and when they were read.
    package struct Snapshot: Sendable {
        package var tenants: [TenantOverview]
        package var readAt: Date

        package init(tenants: [TenantOverview], readAt: Date) {
            self.tenants = tenants
            self.readAt = readAt
        }
    }

    private struct Key: Hashable {
        var msp: MSPID
        var staleAfter: TimeInterval
    }

    private struct Entry {
        var snapshot: Snapshot?
        var refresh: Task<Snapshot, any Error>?
        var lastUsed: Date
    }

    /// How old a snapshot may be when it is served.
    package let maxAge: TimeInterval
    /// How many snapshots are kept: `stale_after` is the caller's, so the keys are bounded here.
    package let capacity: Int
    private let now: @Sendable () -> Date
    private var entries: [Key: Entry] = [:]

    package init(maxAge: TimeInterval, capacity: Int = 64, now: @escaping @Sendable () -> Date = { Date() }) {
        self.maxAge = maxAge
        self.capacity = capacity
        self.now = now
    }

    /// The snapshot of `msp` for `staleAfter`, read with `read` (which returns every tenant's figures) when none
    /// young enough is kept.
    package func snapshot(
        of msp: MSPID, staleAfter: TimeInterval, read: @escaping @Sendable () async throws -> Snapshot
    ) async throws -> Snapshot {
        let key = Key(msp: msp, staleAfter: staleAfter)
        let now = now()
        var entry = entries[key] ?? Entry(lastUsed: now)
        entry.lastUsed = now
        defer { evictBeyondCapacity() }
        if let snapshot = entry.snapshot, now.timeIntervalSince(snapshot.readAt) < maxAge {
            if now.timeIntervalSince(snapshot.readAt) >= maxAge / 2, entry.refresh == nil {
                entry.refresh = startRefresh(key, read)
            }
            entries[key] = entry
            return snapshot
        }
        let refresh = entry.refresh ?? startRefresh(key, read)
        entry.refresh = refresh
        entries[key] = entry
        return try await refresh.value
    }

    private func startRefresh(_ key: Key, _ read: @escaping @Sendable () async throws -> Snapshot) -> Task<Snapshot, any Error> {
        Task {
            do {
                let snapshot = try await read()
                finished(key, .success(snapshot))
                return snapshot
            } catch {
                finished(key, .failure(error))
                throw error
            }
        }
    }

    private func finished(_ key: Key, _ result: Result<Snapshot, any Error>) {
        guard var entry = entries[key] else { return }
        entry.refresh = nil
        if case .success(let snapshot) = result, snapshot.readAt >= entry.snapshot?.readAt ?? .distantPast {
            entry.snapshot = snapshot
        }
        entries[key] = entry
    }

    private func evictBeyondCapacity() {
        while entries.count > capacity {
            guard let oldest = entries.filter({ $0.value.refresh == nil }).min(by: { $0.value.lastUsed < $1.value.lastUsed })
            else { return }
            entries[oldest.key] = nil
        }
    }
}
