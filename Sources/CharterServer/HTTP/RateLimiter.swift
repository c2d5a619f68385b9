package import CharterCore
import Foundation
import Metrics
import Synchronization

/// The token buckets of this process, per tenant and per credential (docs/operations.md, "Limits").
///
/// Buckets live in memory, one table per process: with N replicas behind a balancer a tenant gets up to N times
/// the configured rate. The table is split into shards, each behind its own lock, so requests for different
/// keys rarely wait for each other; a shard holds at most its share of `maximumBuckets`. When a shard is full it
/// drops the buckets that have refilled (they carry no state); if that frees too little, it drops arbitrary ones
/// down to three quarters, which at worst gives their keys a fresh burst. Memory stays bounded however many
/// credentials or tenants show up.
package final class RateLimiter: Sendable {
    /// What a bucket counts requests of.
    package enum Key: Hashable, Sendable {
        case tenant(TenantID)
        /// An admin API principal (its API key).
        case principal(PrincipalID)
        case device(DeviceID)
        case connector(ConnectorID)
        case enrollmentToken(EnrollmentTokenID)

        var scope: Scope {
            switch self {
            case .tenant: .tenant
            case .principal, .device, .connector: .credential
            case .enrollmentToken: .enrollment
            }
        }
    }

    /// Which limit a key falls under.
    package enum Scope: String, Sendable, CaseIterable {
        case tenant, credential, enrollment
    }

    /// A refused request: which limit, and the `Retry-After` to send.
    package struct Limited: Error, Sendable, Hashable {
        package var scope: Scope
        package var retryAfterSeconds: Int

        package init(scope: Scope, retryAfterSeconds: Int) {
            self.scope = scope
            self.retryAfterSeconds = retryAfterSeconds
        }
    }

    private final class Shard: Sendable {
        let buckets = Mutex<[Key: TokenBucket]>([:])
    }

    private let rates: [Scope: TokenBucket.Rate]
    private let shards: [Shard]
    private let shardCapacity: Int
    /// Seconds on a monotonic clock; tests pass their own.
    private let now: @Sendable () -> Double
    private let refusals: [Scope: Counter]

    /// - Parameters:
    ///   - rates: the rate of each scope; a scope without one is not limited.
    ///   - maximumBuckets: how many buckets the process holds at most.
    ///   - now: seconds on a monotonic clock; by default since this limiter was made.
    package init(rates: [Scope: TokenBucket.Rate], maximumBuckets: Int, now: (@Sendable () -> Double)? = nil) {
        let origin = ContinuousClock.now
        self.now = now ?? {
            let elapsed = ContinuousClock.now - origin
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        self.rates = rates
        let shardCount = 16
        shards = (0..<shardCount).map { _ in Shard() }
        shardCapacity = max(4, maximumBuckets / shardCount)
        refusals = Dictionary(
            uniqueKeysWithValues: Scope.allCases.map {
                ($0, Counter(label: "charter_rate_limited_requests", dimensions: [("scope", $0.rawValue)]))
            }
        )
    }

    /// Takes a token from each key's bucket, in order.
    ///
    /// - Throws: ``Limited`` for the first key whose bucket is empty (tokens taken from the keys before it stay
    ///   taken).
    package func admit(_ keys: Key...) throws(Limited) {
        let time = now()
        for key in keys {
            guard let rate = rates[key.scope] else { continue }
            let shard = shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
            let decision = shard.buckets.withLock { buckets in
                if buckets[key] == nil, buckets.count >= shardCapacity {
                    evict(&buckets, at: time)
                }
                return buckets[key, default: TokenBucket(rate: rate, now: time)].take(at: time, rate: rate)
            }
            if case .limited(let seconds) = decision {
                refusals[key.scope]?.increment()
                throw Limited(scope: key.scope, retryAfterSeconds: seconds)
            }
        }
    }

    /// How many buckets the process holds (for tests and gauges).
    package var bucketCount: Int {
        shards.reduce(0) { total, shard in total + shard.buckets.withLock { $0.count } }
    }

    private func evict(_ buckets: inout [Key: TokenBucket], at time: Double) {
        buckets = buckets.filter { key, bucket in
            guard let rate = rates[key.scope] else { return false }
            return !bucket.isFull(at: time, rate: rate)
        }
        let target = shardCapacity * 3 / 4
        while buckets.count > target, let index = buckets.indices.first {
            buckets.remove(at: index)
        }
    }
}
