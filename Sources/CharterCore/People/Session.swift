package import Foundation

/// A person's browser session or personal token (docs/identity.md): its secrets are never kept, only hashes.
package struct Session: Hashable, Sendable {
    package enum Kind: String, Hashable, Sendable {
        /// The `charter_session` cookie, with its CSRF token.
        case browser
        /// A `chpt_` bearer token for tools.
        case token
    }

    package var id: SessionID
    package var mspID: MSPID
    package var personID: PersonID
    package var kind: Kind
    package var createdAt: Date
    package var lastUsedAt: Date
    /// The absolute end of its life.
    package var expiresAt: Date
    package var revokedAt: Date?
    package var userAgent: String?
    package var ip: String?

    package init(
        id: SessionID, mspID: MSPID, personID: PersonID, kind: Kind, createdAt: Date, lastUsedAt: Date,
        expiresAt: Date, revokedAt: Date?, userAgent: String?, ip: String?
    ) {
        self.id = id
        self.mspID = mspID
        self.personID = personID
        self.kind = kind
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.userAgent = userAgent
        self.ip = ip
    }
}

/// How long sessions and tokens live (`session.idle_minutes`, `session.absolute_hours`,
/// `session.token_minutes`), and the decision whether a presented one still does.
package struct SessionLifetime: Hashable, Sendable {
    /// A browser session unused this long ends.
    package var idle: Duration
    /// A browser session ends this long after sign-in, used or not.
    package var absolute: Duration
    /// A personal token lives this long, and no longer than the session it came from.
    package var token: Duration
    /// `last_used_at` is written at most this often.
    package var touchInterval: Duration

    package init(
        idle: Duration = .seconds(60 * 60), absolute: Duration = .seconds(12 * 3600),
        token: Duration = .seconds(60 * 60), touchInterval: Duration = .seconds(60)
    ) {
        self.idle = idle
        self.absolute = absolute
        self.token = token
        self.touchInterval = touchInterval
    }

    /// What to do with a presented session.
    package enum Verdict: Hashable, Sendable {
        /// It is valid; `touch` says whether to write `last_used_at` now.
        case valid(touch: Bool)
        /// It ended: its absolute lifetime, or (browser sessions) its idle lifetime, ran out.
        case expired(idle: Bool)
    }

    /// Decides whether a session of `kind`, last marked used at `lastUsedAt` and ending at `expiresAt`, is valid at
    /// `now`. A token has no idle lifetime: it is short-lived.
    package func verdict(kind: Session.Kind, lastUsedAt: Date, expiresAt: Date, now: Date) -> Verdict {
        guard now < expiresAt else { return .expired(idle: false) }
        let unused = now.timeIntervalSince(lastUsedAt)
        if kind == .browser, unused >= Self.seconds(idle) { return .expired(idle: true) }
        return .valid(touch: unused >= Self.seconds(touchInterval))
    }

    /// When a personal token asked for at `now` from a session ending at `sessionExpiresAt` ends.
    package func tokenExpiry(now: Date, sessionExpiresAt: Date) -> Date {
        min(now.addingTimeInterval(Self.seconds(token)), sessionExpiresAt)
    }

    package static func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
