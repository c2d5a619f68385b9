/// Exponential backoff with jitter, as docs/agent-protocol.md asks for retries.
///
/// Attempt `n` (from 0) waits a nominal `min(maximum, initial × 2ⁿ)`, jittered to a uniformly
/// random delay between half of it and all of it, so that agents cut off together do not come
/// back together.
public struct Backoff: Sendable, Hashable {
    /// The nominal delay of the first attempt.
    public var initial: Duration
    /// The largest nominal delay.
    public var maximum: Duration

    /// Event-stream reconnects after a network error: 1 s doubling to 60 s.
    public static let eventStream = Backoff(initial: .seconds(1), maximum: .seconds(60))
    /// Retries after `429` or `503` without `Retry-After`: 1 s doubling to 5 min.
    public static let overloaded = Backoff(initial: .seconds(1), maximum: .seconds(300))

    /// Creates a backoff.
    ///
    /// - Parameters:
    ///   - initial: The nominal delay of the first attempt.
    ///   - maximum: The largest nominal delay.
    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The nominal delay of an attempt, before jitter.
    ///
    /// - Parameter attempt: The attempt, from 0.
    /// - Returns: `min(maximum, initial × 2^attempt)`.
    public func nominalDelay(attempt: Int) -> Duration {
        var delay = initial
        for _ in 0..<max(0, attempt) where delay < maximum {
            delay *= 2
        }
        return min(delay, maximum)
    }

    /// The jittered delay of an attempt: uniformly between half the nominal delay and all of it.
    ///
    /// - Parameters:
    ///   - attempt: The attempt, from 0.
    ///   - generator: The source of randomness.
    /// - Returns: The delay to wait.
    public func delay(attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let nominal = nominalDelay(attempt: attempt)
        return nominal * Double.random(in: 0.5...1, using: &generator)
    }

    /// The jittered delay of an attempt, with the system's randomness.
    ///
    /// - Parameter attempt: The attempt, from 0.
    /// - Returns: The delay to wait.
    public func delay(attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(attempt: attempt, using: &generator)
    }
}
