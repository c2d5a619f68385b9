/// A token bucket: it refills at a steady rate up to a burst, and each request takes one token.
///
/// A pure value: the caller passes the time (seconds on a monotonic clock), so the arithmetic is tested as a
/// table without waiting. A bucket that has refilled to its burst carries no state and may be dropped: a new
/// bucket starts full.
package struct TokenBucket: Sendable, Hashable {
    /// How fast a bucket refills (tokens a second) and how many tokens it holds at most.
    package struct Rate: Sendable, Hashable {
        package var perSecond: Double
        package var burst: Double

        package init(perSecond: Double, burst: Double) {
            self.perSecond = perSecond
            self.burst = burst
        }
    }

    /// The answer to one request for a token.
    package enum Decision: Sendable, Hashable {
        case allowed
        /// No token is left; one will be in this many whole seconds (at least 1), the `Retry-After` to send.
        case limited(retryAfterSeconds: Int)
    }

    package private(set) var tokens: Double
    /// When `tokens` was last brought up to date.
    package private(set) var updatedAt: Double

    /// A full bucket.
    package init(rate: Rate, now: Double) {
        tokens = rate.burst
        updatedAt = now
    }

    /// Takes one token if there is one.
    package mutating func take(at now: Double, rate: Rate) -> Decision {
        refill(at: now, rate: rate)
        if tokens >= 1 {
            tokens -= 1
            return .allowed
        }
        let wait = (1 - tokens) / rate.perSecond
        return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
    }

    /// Whether the bucket has refilled to its burst by `now` (and so may be dropped).
    package func isFull(at now: Double, rate: Rate) -> Bool {
        tokens + max(0, now - updatedAt) * rate.perSecond >= rate.burst
    }

    private mutating func refill(at now: Double, rate: Rate) {
        // A clock read on another thread may be a little behind: time never runs backwards for a bucket.
        let elapsed = max(0, now - updatedAt)
        tokens = min(rate.burst, tokens + elapsed * rate.perSecond)
        updatedAt = max(updatedAt, now)
    }
}
