package import Foundation

/// One claim of due deliveries, worked through in order: the one state machine of the webhook and the email
/// workers (claim, send, record, hand back, retry with backoff).
///
/// The worker claims a batch under a lease (other replicas skip it until the lease ends), then asks ``next(now:
/// isShuttingDown:)`` before every attempt and does what it answers: send one item, or hand the rest back (due at
/// once for any replica) and stop. After each attempt ``Policy/verdict(afterAttempt:_:now:jitter:)`` says what
/// to record. The machine does no I/O and reads no clock: `now` and the jitter come in, so it is tested as
/// tables.
///
/// The lease fence: an attempt starts only if it and the recording of its outcome fit in what is left of the
/// lease (``Policy/attemptBudget``); otherwise another replica could take the item over while it is still being
/// sent, and send it twice. Handing the rest back at once, rather than letting the lease run out, keeps the
/// other replicas from waiting it out. (Where the store has a claim token, as webhook deliveries do since
/// migration 0013, a recording that comes too late anyway is also refused.)
package struct DeliveryClaim<Item: Sendable>: Sendable {
    /// The rules of a worker's claims.
    package struct Policy: Sendable, Hashable {
        /// How long a claim keeps other replicas off its items.
        package var lease: TimeInterval
        /// The longest one attempt and the recording of its outcome may take.
        package var attemptBudget: TimeInterval
        /// The first retry waits about this long; each further one twice as long as the one before.
        package var retryBase: TimeInterval
        /// After this many attempts an item fails for good.
        package var maximumAttempts: Int
        /// No retry waits longer than this (before jitter).
        package var maximumRetryDelay: TimeInterval

        package init(
            lease: TimeInterval, attemptBudget: TimeInterval, retryBase: TimeInterval, maximumAttempts: Int,
            maximumRetryDelay: TimeInterval = 3600
        ) {
            self.lease = lease
            self.attemptBudget = attemptBudget
            self.retryBase = retryBase
            self.maximumAttempts = maximumAttempts
            self.maximumRetryDelay = maximumRetryDelay
        }
    }

    /// What the worker does next.
    package enum Action {
        /// Attempt this item, then record the verdict.
        case send(Item)
        /// Hand these back, unsent, due at once; the claim is over.
        case handBack([Item])
        /// Every item was attempted; the claim is over.
        case done
    }

    /// How one attempt went.
    package enum Attempt: Sendable, Hashable {
        case delivered
        /// `isPermanent`: the receiver refused in a way a retry cannot change (an SMTP 5xx reply).
        case failed(isPermanent: Bool)
    }

    /// What to record of an attempt.
    package enum Verdict: Sendable, Hashable {
        case delivered
        /// Still pending, due again at `retryAt`.
        case retry(at: Date)
        /// Failed for good (permanent, or the last attempt).
        case failed
    }

    package let policy: Policy
    /// When the claim's lease ends.
    package let leaseEnds: Date
    private var remaining: ArraySlice<Item>

    package init(_ items: [Item], claimedAt: Date, policy: Policy) {
        self.policy = policy
        self.leaseEnds = claimedAt.addingTimeInterval(policy.lease)
        self.remaining = items[...]
    }

    /// The next step: send the next item if it fits in the lease and the service is not shutting down,
    /// otherwise hand every remaining item back.
    package mutating func next(now: Date, isShuttingDown: Bool) -> Action {
        guard let item = remaining.first else { return .done }
        guard !isShuttingDown, now.addingTimeInterval(policy.attemptBudget) <= leaseEnds else {
            let rest = Array(remaining)
            remaining = []
            return .handBack(rest)
        }
        remaining = remaining.dropFirst()
        return .send(item)
    }
}

extension DeliveryClaim.Policy {
    /// What to record after the `attempt`-th attempt (1 for the first) went as `result`.
    ///
    /// A failure is retried with exponential backoff — `retryBase` × 2^(attempt − 1), at most
    /// ``maximumRetryDelay``, times `jitter` (the worker draws it from 0.8...1.2 so replicas do not retry in step)
    /// — until ``maximumAttempts``; a permanent one is not retried.
    package func verdict(
        afterAttempt attempt: Int, _ result: DeliveryClaim<Item>.Attempt, now: Date, jitter: Double
    ) -> DeliveryClaim<Item>.Verdict {
        switch result {
        case .delivered:
            return .delivered
        case .failed(let isPermanent):
            guard !isPermanent, attempt < maximumAttempts else { return .failed }
            let delay = min(retryBase * pow(2, Double(attempt - 1)), maximumRetryDelay) * jitter
            return .retry(at: now.addingTimeInterval(delay))
        }
    }
}
