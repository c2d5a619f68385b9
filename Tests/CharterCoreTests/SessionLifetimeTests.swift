import CharterCore
import Foundation
import Testing

@Suite("Session lifetime")
struct SessionLifetimeTests {
    static let lifetime = SessionLifetime(
        idle: .seconds(3600), absolute: .seconds(12 * 3600), token: .seconds(3600), touchInterval: .seconds(60)
    )
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var kind: Session.Kind
        /// Seconds since the session was last marked used.
        var unused: TimeInterval
        /// Seconds until its absolute end.
        var remaining: TimeInterval
        var expected: SessionLifetime.Verdict
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "just used: valid, not written", kind: .browser, unused: 5, remaining: 600,
              expected: .valid(touch: false)),
        .init(name: "used a minute ago: valid, written", kind: .browser, unused: 60, remaining: 600,
              expected: .valid(touch: true)),
        .init(name: "idle just short of the limit", kind: .browser, unused: 3599, remaining: 600,
              expected: .valid(touch: true)),
        .init(name: "idle at the limit: ended", kind: .browser, unused: 3600, remaining: 600,
              expected: .expired(idle: true)),
        .init(name: "absolute end reached while in use", kind: .browser, unused: 1, remaining: 0,
              expected: .expired(idle: false)),
        .init(name: "absolute end passed", kind: .browser, unused: 1, remaining: -1, expected: .expired(idle: false)),
        .init(name: "a token has no idle lifetime", kind: .token, unused: 7200, remaining: 60,
              expected: .valid(touch: true)),
        .init(name: "a token ends at its expiry", kind: .token, unused: 1, remaining: 0,
              expected: .expired(idle: false)),
    ]

    @Test("a session is valid until its idle or absolute lifetime runs out", arguments: cases)
    func verdict(_ example: Case) {
        let now = Self.t0
        #expect(
            Self.lifetime.verdict(
                kind: example.kind, lastUsedAt: now.addingTimeInterval(-example.unused),
                expiresAt: now.addingTimeInterval(example.remaining), now: now
            ) == example.expected
        )
    }

    @Test("a token lives token_minutes, never beyond its session", arguments: [
        (7200.0, 3600.0), (1800.0, 1800.0), (0.5, 0.5),
    ])
    func tokenExpiry(sessionRemaining: TimeInterval, expected: TimeInterval) {
        let expiry = Self.lifetime.tokenExpiry(now: Self.t0, sessionExpiresAt: Self.t0.addingTimeInterval(sessionRemaining))
        #expect(expiry == Self.t0.addingTimeInterval(expected))
    }
}
