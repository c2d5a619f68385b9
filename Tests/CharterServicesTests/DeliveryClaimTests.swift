import CharterServices
import Foundation
import Testing

@Suite("Delivery claims")
struct DeliveryClaimTests {
    static let claimedAt = Date(timeIntervalSince1970: 1_800_000_000)
    /// A webhook worker's rules: a 10-s deadline plus a 15-s recording margin in a 120-s lease.
    static let webhooks = DeliveryClaim<String>.Policy(
        lease: 120, attemptBudget: 25, retryBase: 10, maximumAttempts: 10
    )

    /// Runs a claim of `items`, where each attempt takes the given seconds, and returns what it did.
    static func steps(
        _ items: [String], policy: DeliveryClaim<String>.Policy, durations: [TimeInterval],
        shutdownAfter: Int? = nil
    ) -> [String] {
        var claim = DeliveryClaim(items, claimedAt: claimedAt, policy: policy)
        var now = claimedAt
        var steps: [String] = []
        var durations = durations[...]
        while true {
            switch claim.next(now: now, isShuttingDown: shutdownAfter.map { steps.count >= $0 } ?? false) {
            case .done:
                return steps + ["done"]
            case .handBack(let rest):
                return steps + ["hand back " + rest.joined(separator: ",")]
            case .send(let item):
                steps.append("send " + item)
                now += durations.popFirst() ?? 0
            }
        }
    }

    @Test(
        "an attempt starts only if it and its recording fit in what is left of the lease",
        arguments: [
            (["a", "b", "c"], [1, 1, 1] as [TimeInterval], ["send a", "send b", "send c", "done"]),
            // 95 s in, 25 more end exactly with the lease: still sent.
            (["a", "b"], [95], ["send a", "send b", "done"]),
            // 96 s in they would end past it: the rest goes back, unsent.
            (["a", "b", "c"], [96], ["send a", "hand back b,c"]),
            (["a", "b", "c"], [30, 30, 30], ["send a", "send b", "send c", "done"]),
            (["a", "b", "c", "d"], [30, 30, 36], ["send a", "send b", "send c", "hand back d"]),
            ([], [], ["done"]),
        ] as [([String], [TimeInterval], [String])]
    )
    func leaseFence(items: [String], durations: [TimeInterval], expected: [String]) {
        #expect(Self.steps(items, policy: Self.webhooks, durations: durations) == expected)
    }

    @Test("on shutdown the rest of the claim is handed back, the item in hand finished")
    func shutdown() {
        #expect(
            Self.steps(["a", "b", "c"], policy: Self.webhooks, durations: [1, 1, 1], shutdownAfter: 1)
                == ["send a", "hand back b,c"]
        )
        #expect(
            Self.steps(["a"], policy: Self.webhooks, durations: [], shutdownAfter: 0) == ["hand back a"]
        )
    }

    @Test("an email claim budgets half its lease per session: past half the lease the rest goes back")
    func halfLease() {
        let email = DeliveryClaim<String>.Policy(lease: 3, attemptBudget: 1.5, retryBase: 60, maximumAttempts: 10)
        // The first message takes the whole 2-s timeout, past half of a 3-s lease (EmailFlowTests.halfLease).
        #expect(Self.steps(["pending", "expired"], policy: email, durations: [2]) == ["send pending", "hand back expired"])
        #expect(Self.steps(["pending", "expired"], policy: email, durations: [1.5]) == ["send pending", "send expired", "done"])
    }

    @Test(
        "a failure is retried at base × 2^(attempt − 1), at most an hour, times the jitter",
        arguments: [
            (1, 1.0, 10.0),
            (2, 1.0, 20.0),
            (3, 0.8, 32.0),
            (4, 1.2, 96.0),
            (9, 1.0, 2560.0),
            (8, 1.0, 1280.0),
        ] as [(Int, Double, TimeInterval)]
    )
    func backoff(attempt: Int, jitter: Double, delay: TimeInterval) {
        let now = Self.claimedAt
        #expect(
            Self.webhooks.verdict(afterAttempt: attempt, .failed(isPermanent: false), now: now, jitter: jitter)
                == .retry(at: now.addingTimeInterval(delay))
        )
    }

    @Test("no retry waits longer than the maximum, before jitter")
    func capped() {
        let policy = DeliveryClaim<String>.Policy(lease: 600, attemptBudget: 300, retryBase: 30, maximumAttempts: 20)
        let now = Self.claimedAt
        #expect(
            policy.verdict(afterAttempt: 12, .failed(isPermanent: false), now: now, jitter: 1.2)
                == .retry(at: now.addingTimeInterval(3600 * 1.2))
        )
    }

    @Test(
        "delivered is final; a permanent refusal or the last attempt fails for good",
        arguments: [
            (1, DeliveryClaim<String>.Attempt.delivered, DeliveryClaim<String>.Verdict.delivered),
            (10, .delivered, .delivered),
            (1, .failed(isPermanent: true), .failed),
            (10, .failed(isPermanent: false), .failed),
            (11, .failed(isPermanent: false), .failed),
        ] as [(Int, DeliveryClaim<String>.Attempt, DeliveryClaim<String>.Verdict)]
    )
    func final(attempt: Int, result: DeliveryClaim<String>.Attempt, verdict: DeliveryClaim<String>.Verdict) {
        #expect(Self.webhooks.verdict(afterAttempt: attempt, result, now: Self.claimedAt, jitter: 1) == verdict)
    }
}
