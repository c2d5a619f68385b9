import CharterCore
import Foundation
import Testing

@Suite("Session refresh policy")
struct SessionRefreshPolicyTests {
    /// 15 minutes: retries once a minute, served up to 30 minutes after the last confirmation.
    static let policy = SessionRefreshPolicy(intervalSeconds: 900)
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    struct Due: Sendable, CustomTestStringConvertible {
        var name: String
        /// Seconds from now to the due time; `nil`: no refresh token.
        var dueIn: TimeInterval?
        var expected: Bool
        var testDescription: String { name }
    }

    @Test(
        "a refresh is due at its due time, never for a session without a refresh token",
        arguments: [
            Due(name: "no refresh token", dueIn: nil, expected: false),
            Due(name: "a second early", dueIn: 1, expected: false),
            Due(name: "at the due time", dueIn: 0, expected: true),
            Due(name: "long overdue", dueIn: -86_400, expected: true),
        ]
    )
    func due(_ row: Due) {
        #expect(Self.policy.isDue(row.dueIn.map { Self.t0.addingTimeInterval($0) }, now: Self.t0) == row.expected)
    }

    struct Step: Sendable, CustomTestStringConvertible {
        var name: String
        var attempt: SessionRefreshPolicy.Attempt
        /// Seconds since the provider last vouched for the person; `nil`: never refreshed.
        var confirmedAgo: TimeInterval?
        var expected: SessionRefreshPolicy.Step
        var testDescription: String { name }
    }

    @Test(
        "what a refresh does to the session",
        arguments: [
            Step(name: "renewed with a role: confirmed, next one interval later", attempt: .renewed(hasRole: true),
                 confirmedAgo: 900, expected: .confirm(nextDueAt: t0.addingTimeInterval(900))),
            Step(name: "renewed without any role: ended", attempt: .renewed(hasRole: false), confirmedAgo: 900,
                 expected: .end),
            Step(name: "refused by the provider: ended", attempt: .refused, confirmedAgo: 900, expected: .end),
            Step(name: "refused even when freshly confirmed: ended", attempt: .refused, confirmedAgo: 1, expected: .end),
            Step(name: "unreachable at the due time: served, retried in a minute", attempt: .unreachable,
                 confirmedAgo: 900, expected: .retry(at: t0.addingTimeInterval(60), serving: true)),
            Step(name: "unreachable just short of two intervals: still served", attempt: .unreachable,
                 confirmedAgo: 1799, expected: .retry(at: t0.addingTimeInterval(60), serving: true)),
            Step(name: "unreachable at two intervals: kept but not served", attempt: .unreachable,
                 confirmedAgo: 1800, expected: .retry(at: t0.addingTimeInterval(60), serving: false)),
            Step(name: "unreachable for hours: kept but not served", attempt: .unreachable, confirmedAgo: 36_000,
                 expected: .retry(at: t0.addingTimeInterval(60), serving: false)),
        ]
    )
    func step(_ row: Step) {
        let confirmedAt = row.confirmedAgo.map { Self.t0.addingTimeInterval(-$0) }
        #expect(Self.policy.step(after: row.attempt, confirmedAt: confirmedAt, now: Self.t0) == row.expected)
    }

    @Test("a session never refreshed is served on its sign-in's groups; a short interval retries as often as it runs")
    func edges() {
        #expect(Self.policy.serves(confirmedAt: nil, now: Self.t0))
        let short = SessionRefreshPolicy(intervalSeconds: 30)
        #expect(short.retryDelay == 30 && short.staleness == 60)
        #expect(Self.policy.retryDelay == 60 && Self.policy.staleness == 1800)
    }
}
