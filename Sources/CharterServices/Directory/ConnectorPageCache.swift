package import CharterCore
package import CharterStore
package import Foundation
import Synchronization

/// The pages this process's upload route decoded and checked, kept for the sync engine's merge of the same run,
/// so a page is decoded once rather than on upload and again on load (docs/directory-sync.md, "Connector
/// transport").
///
/// A page is found by tenant, run, page number **and the SHA-256 of its JSON**, which the upload route stored
/// beside the page: the decoded form is a function of those bytes alone, so what the engine takes from here is
/// what decoding the stored page would give. A page stored under another digest (replaced since, or stored by
/// another replica) is not found and the engine decodes and checks the stored bytes as before. Bounded by
/// ``capacity`` objects and deletions, the oldest pages dropped first; a run's pages are dropped when the engine
/// discards its upload.
package final class ConnectorPageCache: Sendable {
    /// What identifies a decoded page.
    package struct Key: Hashable, Sendable {
        package var tenant: TenantID
        package var run: SyncRunID
        package var page: Int
        package var sha256: Data

        package init(tenant: TenantID, run: SyncRunID, page: Int, sha256: Data) {
            self.tenant = tenant
            self.run = run
            self.page = page
            self.sha256 = sha256
        }
    }

    private struct State {
        var pages: [Key: ConnectorPageCodec.Decoded] = [:]
        /// Keys in the order they were inserted, for dropping the oldest first.
        var order: [Key] = []
        /// Objects plus deletions held.
        var items = 0

        mutating func remove(_ key: Key) {
            if let removed = pages.removeValue(forKey: key) {
                items -= removed.entries.count + removed.deletions.count
            }
        }
    }

    /// The most objects plus deletions held (well under 1 KiB each): by default one run of the engine's default
    /// `maximumObjects`.
    package let capacity: Int
    private let state = Mutex(State())

    package init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// Keeps a page that was decoded and checked; `decoded.sha256` is part of its key.
    package func insert(_ decoded: ConnectorPageCodec.Decoded, page: Int, of run: SyncRunID, tenant: TenantID) {
        let size = decoded.entries.count + decoded.deletions.count
        guard size <= capacity else { return }
        let key = Key(tenant: tenant, run: run, page: page, sha256: decoded.sha256)
        state.withLock { state in
            guard state.pages[key] == nil else { return }
            state.pages[key] = decoded
            state.order.append(key)
            state.items += size
            var dropped = 0
            while state.items > capacity, dropped < state.order.count {
                state.remove(state.order[dropped])
                dropped += 1
            }
            if dropped > 0 { state.order.removeFirst(dropped) }
        }
    }

    /// The decoded page stored under this digest, if this process decoded it.
    package func decoded(page: Int, sha256: Data, of run: SyncRunID, tenant: TenantID) -> ConnectorPageCodec.Decoded? {
        let key = Key(tenant: tenant, run: run, page: page, sha256: sha256)
        return state.withLock { $0.pages[key] }
    }

    /// Drops a run's pages.
    package func discard(run: SyncRunID, tenant: TenantID) {
        state.withLock { state in
            for key in state.order where key.run == run && key.tenant == tenant {
                state.remove(key)
            }
            state.order.removeAll { $0.run == run && $0.tenant == tenant }
        }
    }

    /// How many pages are held.
    package var count: Int {
        state.withLock { $0.pages.count }
    }
}
