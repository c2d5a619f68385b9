import CharterCore
import CharterServices
import CharterStore
import Foundation
import Testing

/// The decoded pages the upload route keeps for the engine: found only by tenant, run, page and digest; bounded,
/// oldest first; dropped with their run.
@Suite("Connector page cache")
struct ConnectorPageCacheTests {
    static let tenant = TenantID.random()
    static let run = SyncRunID.random()

    /// A decoded page of `items` deletions under the digest `digest`.
    static func page(items: Int, digest: UInt8) -> ConnectorPageCodec.Decoded {
        ConnectorPageCodec.Decoded(
            entries: [], deletions: (0..<items).map { _ in UUID() }, sha256: Data(repeating: digest, count: 32)
        )
    }

    @Test("a page is found by its tenant, run, number and digest, by nothing less")
    func key() {
        let cache = ConnectorPageCache()
        let page = Self.page(items: 2, digest: 1)
        cache.insert(page, page: 1, of: Self.run, tenant: Self.tenant)
        #expect(cache.decoded(page: 1, sha256: page.sha256, of: Self.run, tenant: Self.tenant)?.deletions == page.deletions)
        let misses: [(Int, Data, SyncRunID, TenantID)] = [
            (1, Data(repeating: 2, count: 32), Self.run, Self.tenant),
            (2, page.sha256, Self.run, Self.tenant),
            (1, page.sha256, .random(), Self.tenant),
            (1, page.sha256, Self.run, .random()),
        ]
        for (number, digest, run, tenant) in misses {
            #expect(cache.decoded(page: number, sha256: digest, of: run, tenant: tenant) == nil)
        }
    }

    @Test("beyond its capacity the oldest pages go first; a page larger than the capacity is not kept")
    func capacity() {
        let cache = ConnectorPageCache(capacity: 10)
        for number in 1...3 {
            cache.insert(Self.page(items: 4, digest: UInt8(number)), page: number, of: Self.run, tenant: Self.tenant)
        }
        let held = (1...3).map { number in
            cache.decoded(page: number, sha256: Data(repeating: UInt8(number), count: 32), of: Self.run, tenant: Self.tenant) != nil
        }
        #expect(held == [false, true, true])
        cache.insert(Self.page(items: 11, digest: 9), page: 9, of: Self.run, tenant: Self.tenant)
        #expect(cache.count == 2)
    }

    @Test("discarding a run drops its pages and no other run's")
    func discard() {
        let cache = ConnectorPageCache()
        let other = SyncRunID.random()
        cache.insert(Self.page(items: 1, digest: 1), page: 1, of: Self.run, tenant: Self.tenant)
        cache.insert(Self.page(items: 1, digest: 2), page: 2, of: Self.run, tenant: Self.tenant)
        cache.insert(Self.page(items: 1, digest: 1), page: 1, of: other, tenant: Self.tenant)
        cache.discard(run: Self.run, tenant: Self.tenant)
        #expect(cache.count == 1)
        #expect(cache.decoded(page: 1, sha256: Data(repeating: 1, count: 32), of: other, tenant: Self.tenant) != nil)
    }
}
