package import Foundation

/// When a browser session asks the identity provider again whether its person still holds their groups
/// (`session.refresh_interval_seconds`), and what a refresh attempt's outcome does to the session
/// (docs/identity.md, "Refreshing sessions").
///
/// A session signed in with a refresh token is *confirmed* at sign-in and at every successful refresh; its next
/// refresh is due one interval later. A provider that cannot be reached is not a refusal: the session keeps the
/// groups last confirmed for one more interval (retrying at most once a minute), so no request is served on
/// groups older than two intervals; past that its requests are refused (503) until a refresh succeeds, and the
/// session is not ended, because signing in again would fail the same way.
package struct SessionRefreshPolicy: Hashable, Sendable {
    /// How long a confirmation holds before the next refresh is due.
    package var interval: TimeInterval

    package init(intervalSeconds: Int = 900) {
        interval = TimeInterval(intervalSeconds)
    }

    /// The least time between two attempts while the provider cannot be reached.
    package var retryDelay: TimeInterval { min(60, interval) }

    /// How old confirmed groups may be and still be served: one interval, plus one more while the provider
    /// cannot be reached.
    package var staleness: TimeInterval { 2 * interval }

    /// What a refresh attempt came to.
    package enum Attempt: Hashable, Sendable {
        /// The provider vouched for the person again; `hasRole` says whether their groups and direct grants
        /// still give them a grant.
        case renewed(hasRole: Bool)
        /// The provider refused (the refresh token was revoked or expired, the person disabled) or answered
        /// something that does not validate.
        case refused
        /// The provider could not be reached or answered with a server error.
        case unreachable
    }

    /// What to do with the session after an attempt.
    package enum Step: Hashable, Sendable {
        /// Keep it, confirmed now; the next refresh is due at `nextDueAt`.
        case confirm(nextDueAt: Date)
        /// End it (and the tokens taken from it).
        case end
        /// Keep it unconfirmed and try again at `retryAt`; `serving` says whether its requests are still served.
        case retry(at: Date, serving: Bool)
    }

    /// When the refresh of a session confirmed at `now` is due.
    package func nextDue(after now: Date) -> Date {
        now.addingTimeInterval(interval)
    }

    /// Whether a session whose next refresh is due at `dueAt` (`nil`: it has no refresh token) should refresh at
    /// `now`.
    package func isDue(_ dueAt: Date?, now: Date) -> Bool {
        guard let dueAt else { return false }
        return now >= dueAt
    }

    /// Whether groups confirmed at `confirmedAt` may still be served at `now` (`nil`: the session is not
    /// refreshed, its groups are those of its sign-in, as before refreshing existed).
    package func serves(confirmedAt: Date?, now: Date) -> Bool {
        guard let confirmedAt else { return true }
        return now.timeIntervalSince(confirmedAt) < staleness
    }

    /// The step after `attempt` at `now`, for a session last confirmed at `confirmedAt`.
    package func step(after attempt: Attempt, confirmedAt: Date?, now: Date) -> Step {
        switch attempt {
        case .renewed(hasRole: true): .confirm(nextDueAt: nextDue(after: now))
        case .renewed(hasRole: false), .refused: .end
        case .unreachable:
            .retry(at: now.addingTimeInterval(retryDelay), serving: serves(confirmedAt: confirmedAt, now: now))
        }
    }
}
