import CharterCore
import Testing

@Suite("Token bucket")
struct TokenBucketTests {
    /// One step of a table: at `time`, ask for a token; expect `decision`.
    struct Step: Sendable, CustomTestStringConvertible {
        var time: Double
        var decision: TokenBucket.Decision

        var testDescription: String { "t=\(time) → \(decision)" }
    }

    static let rate = TokenBucket.Rate(perSecond: 2, burst: 3)

    @Test(
        "requests are allowed up to the burst, then at the rate, with Retry-After until the next token",
        arguments: [
            // The burst at once, then the next token is half a second away (rounded up to 1 s).
            [
                Step(time: 0, decision: .allowed), Step(time: 0, decision: .allowed), Step(time: 0, decision: .allowed),
                Step(time: 0, decision: .limited(retryAfterSeconds: 1)),
                Step(time: 0.5, decision: .allowed), Step(time: 0.5, decision: .limited(retryAfterSeconds: 1)),
            ],
            // Idle time refills, but never beyond the burst.
            [
                Step(time: 0, decision: .allowed), Step(time: 0, decision: .allowed), Step(time: 0, decision: .allowed),
                Step(time: 100, decision: .allowed), Step(time: 100, decision: .allowed),
                Step(time: 100, decision: .allowed), Step(time: 100, decision: .limited(retryAfterSeconds: 1)),
            ],
            // A clock read a little behind the last update does not refill or break the bucket.
            [
                Step(time: 5, decision: .allowed), Step(time: 4, decision: .allowed), Step(time: 4.9, decision: .allowed),
                Step(time: 4.9, decision: .limited(retryAfterSeconds: 1)),
            ],
        ]
    )
    func steps(_ steps: [Step]) {
        var bucket = TokenBucket(rate: Self.rate, now: steps[0].time)
        for step in steps {
            #expect(bucket.take(at: step.time, rate: Self.rate) == step.decision, "\(step.testDescription)")
        }
    }

    @Test(
        "Retry-After is the wait for the next whole token, rounded up",
        arguments: [
            (TokenBucket.Rate(perSecond: 0.1, burst: 1), 10),
            (TokenBucket.Rate(perSecond: 0.3, burst: 1), 4),
            (TokenBucket.Rate(perSecond: 1000, burst: 1), 1),
        ]
    )
    func retryAfter(rate: TokenBucket.Rate, seconds: Int) {
        var bucket = TokenBucket(rate: rate, now: 0)
        #expect(bucket.take(at: 0, rate: rate) == .allowed)
        #expect(bucket.take(at: 0, rate: rate) == .limited(retryAfterSeconds: seconds))
    }

    @Test("a bucket is full again, and can be dropped, once it has refilled to its burst")
    func full() {
        var bucket = TokenBucket(rate: Self.rate, now: 0)
        #expect(bucket.isFull(at: 0, rate: Self.rate))
        _ = bucket.take(at: 0, rate: Self.rate)
        #expect(!bucket.isFull(at: 0.4, rate: Self.rate))
        #expect(bucket.isFull(at: 0.5, rate: Self.rate))
    }
}
