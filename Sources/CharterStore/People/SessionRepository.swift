package import CharterCore
package import Foundation
import PostgresNIO

/// People's browser sessions and personal tokens.
package struct SessionRepository: Sendable {
    let tx: Transaction

    /// What authentication needs of a session: the hashes to compare, its lifetimes, and the person with the
    /// grants worked out now.
    package struct Credential: Sendable {
        package var secretHash: [UInt8]
        /// Browser sessions only.
        package var csrfHash: [UInt8]?
        package var kind: Session.Kind
        package var lastUsedAt: Date
        package var expiresAt: Date
        package var principal: Principal
        /// When the session's next refresh at the identity provider is due; `nil` when it has no refresh token.
        package var refreshDueAt: Date?
        /// When the provider last vouched for the person (sign-in or refresh); `nil` for sessions from before
        /// refreshing existed, and for tokens.
        package var refreshedAt: Date?
    }

    /// A session's refresh token, claimed for one refresh (``claimRefresh(_:msp:now:until:force:)``).
    package struct RefreshClaim: Sendable {
        package var personID: PersonID
        /// The sealed refresh token.
        package var sealedToken: String
        package var refreshedAt: Date?
    }

    /// What claiming a session's refresh found.
    package enum RefreshClaimOutcome: Sendable {
        /// The refresh is this caller's to do until the claim runs out.
        case claimed(RefreshClaim)
        /// Not claimed: the session has no refresh token, is not due (`force` false), is being refreshed by
        /// another request, or is revoked or expired. `refreshedAt` is its last confirmation, if any.
        case notClaimed(hasRefreshToken: Bool, refreshedAt: Date?)
    }

    private typealias Row = (UUID, UUID, UUID, String, Date, Date, Date, Date?, String?, String?)

    private static let columns = """
        SELECT id, msp_id, person_id, kind, created_at, last_used_at, expires_at, revoked_at, user_agent, ip
        FROM sessions
        """

    private static func session(_ row: Row) throws -> Session {
        guard let kind = Session.Kind(rawValue: row.3) else { throw StoreError.unexpected(sqlState: "kind") }
        return Session(
            id: SessionID(row.0), mspID: MSPID(row.1), personID: PersonID(row.2), kind: kind, createdAt: row.4,
            lastUsedAt: row.5, expiresAt: row.6, revokedAt: row.7, userAgent: row.8, ip: row.9
        )
    }

    /// Looks a session up for authentication, across MSPs, in one statement through the one function that
    /// allows it.
    ///
    /// Returns `nil` for an unknown, revoked or expired session.
    package func credential(for id: SessionID) async throws -> Credential? {
        let rows = try await tx.query(
            """
            SELECT secret_hash, csrf_hash, kind, msp_id, person_id, issuer, subject, email, name, last_used_at,
                   expires_at, grants, refresh_due_at, refreshed_at
            FROM charter_private.person_session(\(id.rawValue))
            """
        )
        for try await row in rows.decode(
            (Data, Data?, String, UUID, UUID, String, String, String?, String?, Date, Date, [String], Date?, Date?).self
        ) {
            guard let kind = Session.Kind(rawValue: row.2) else { return nil }
            let msp = MSPID(row.3)
            let person = Principal.Person(
                id: PersonID(row.4), issuer: row.5, subject: row.6, email: row.7, sessionID: id, sessionKind: kind
            )
            let grants = row.11.compactMap { Self.grant($0, msp: msp) }
            return Credential(
                secretHash: Array(row.0), csrfHash: row.1.map(Array.init), kind: kind, lastUsedAt: row.9,
                expiresAt: row.10,
                principal: Principal(person: person, name: row.7 ?? row.8 ?? row.6, msp: msp, grants: grants),
                refreshDueAt: row.12, refreshedAt: row.13
            )
        }
        return nil
    }

    /// A grant as `person_session` encodes it: `role` (MSP-wide) or `role:tenant id`.
    static func grant(_ encoded: String, msp: MSPID) -> Grant? {
        let parts = encoded.split(separator: ":", maxSplits: 1)
        guard let first = parts.first, let role = Role(rawValue: String(first)) else { return nil }
        guard parts.count == 2 else { return Grant(role: role, scope: .msp(msp)) }
        guard let tenant = TenantID(String(parts[1])) else { return nil }
        return Grant(role: role, scope: .tenant(msp, tenant))
    }

    /// Marks a session used at `now`, outside any MSP (authentication), through the function that allows it.
    package func touch(_ id: SessionID, at now: Date) async throws {
        try await tx.query("SELECT charter_private.touch_session(\(id.rawValue), \(now))")
    }

    /// Stores a new session; only hashes of its secrets are kept.
    ///
    /// - Parameters:
    ///   - refresh: A browser session's sealed refresh token and when its first refresh is due.
    ///   - refreshedAt: When the provider vouched for the person (a browser session's sign-in).
    package func create(
        _ session: Session, secretHash: [UInt8], csrfHash: [UInt8]?, parent: SessionID?,
        refresh: (sealedToken: String, dueAt: Date)? = nil, refreshedAt: Date? = nil
    ) async throws {
        try await tx.query(
            """
            INSERT INTO sessions (msp_id, id, person_id, kind, secret_hash, csrf_hash, parent_id, created_at,
                                  last_used_at, expires_at, user_agent, ip, refresh_token_sealed, refresh_due_at,
                                  refreshed_at)
            VALUES (\(session.mspID.rawValue), \(session.id.rawValue), \(session.personID.rawValue),
                    \(session.kind.rawValue), \(Data(secretHash)), \(csrfHash.map { Data($0) }),
                    \(parent?.rawValue), \(session.createdAt), \(session.lastUsedAt), \(session.expiresAt),
                    \(session.userAgent), \(session.ip), \(refresh?.sealedToken), \(refresh?.dueAt), \(refreshedAt))
            """
        )
    }

    // MARK: - Refresh

    /// Claims the refresh of a live browser session until `until`: when it has a refresh token, is due at `now`
    /// (or `force`), and no other claim runs.
    package func claimRefresh(_ id: SessionID, msp: MSPID, now: Date, until: Date, force: Bool) async throws
        -> RefreshClaimOutcome
    {
        let claimed = try await tx.query(
            """
            UPDATE sessions SET refresh_claimed_until = \(until)
            WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue) AND kind = 'browser'
              AND revoked_at IS NULL AND expires_at > \(now) AND refresh_token_sealed IS NOT NULL
              AND (\(force) OR refresh_due_at <= \(now))
              AND (refresh_claimed_until IS NULL OR refresh_claimed_until <= \(now))
            RETURNING person_id, refresh_token_sealed, refreshed_at
            """
        )
        for try await row in claimed.decode((UUID, String, Date?).self) {
            return .claimed(RefreshClaim(personID: PersonID(row.0), sealedToken: row.1, refreshedAt: row.2))
        }
        let rows = try await tx.query(
            """
            SELECT refresh_token_sealed IS NOT NULL, refreshed_at FROM sessions
            WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue)
            """
        )
        for try await row in rows.decode((Bool, Date?).self) {
            return .notClaimed(hasRefreshToken: row.0, refreshedAt: row.1)
        }
        return .notClaimed(hasRefreshToken: false, refreshedAt: nil)
    }

    /// Records a successful refresh: confirmed at `refreshedAt`, the next due at `dueAt`, the claim released, and
    /// the refresh token replaced when the provider rotated it (`sealedToken` not `nil`).
    package func confirmRefresh(
        _ id: SessionID, msp: MSPID, sealedToken: String?, refreshedAt: Date, dueAt: Date
    ) async throws {
        try await tx.query(
            """
            UPDATE sessions
            SET refresh_token_sealed = COALESCE(\(sealedToken), refresh_token_sealed),
                refreshed_at = \(refreshedAt), refresh_due_at = \(dueAt), refresh_claimed_until = NULL
            WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue) AND refresh_token_sealed IS NOT NULL
            """
        )
    }

    /// Records a refresh that could not reach the provider: the next attempt at `dueAt`, the claim released.
    package func postponeRefresh(_ id: SessionID, msp: MSPID, dueAt: Date) async throws {
        try await tx.query(
            """
            UPDATE sessions SET refresh_due_at = \(dueAt), refresh_claimed_until = NULL
            WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue) AND refresh_token_sealed IS NOT NULL
            """
        )
    }

    /// - Throws: ``StoreError/notFound`` for a session not of `msp` (or not of `person`, when given).
    package func get(_ id: SessionID, msp: MSPID, person: PersonID? = nil) async throws -> Session {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE msp_id = \(msp.rawValue) AND id = \(id.rawValue)
              AND (\(person?.rawValue)::uuid IS NULL OR person_id = \(person?.rawValue))
            """
        )
        for try await row in rows.decode(Row.self) { return try Self.session(row) }
        throw StoreError.notFound
    }

    /// A page, by id after `cursor`, of the sessions of `msp` (or of one person) still alive at `now`.
    package func listActive(
        msp: MSPID, person: PersonID?, at now: Date, after cursor: SessionID?, limit: Int
    ) async throws -> [Session] {
        let rows = try await tx.query(
            """
            \(unescaped: Self.columns)
            WHERE msp_id = \(msp.rawValue) AND revoked_at IS NULL AND expires_at > \(now)
              AND (\(person?.rawValue)::uuid IS NULL OR person_id = \(person?.rawValue))
              AND (\(cursor?.rawValue)::uuid IS NULL OR id > \(cursor?.rawValue))
            ORDER BY id LIMIT \(limit)
            """
        )
        var sessions: [Session] = []
        for try await row in rows.decode(Row.self) { sessions.append(try Self.session(row)) }
        return sessions
    }

    /// Revokes a session and the personal tokens taken from it, dropping its refresh token; returns how many
    /// were revoked (0 when it already was).
    @discardableResult
    package func revoke(_ id: SessionID, msp: MSPID, at now: Date) async throws -> Int {
        let rows = try await tx.query(
            """
            UPDATE sessions
            SET revoked_at = \(now), refresh_token_sealed = NULL, refresh_due_at = NULL, refresh_claimed_until = NULL
            WHERE msp_id = \(msp.rawValue) AND (id = \(id.rawValue) OR parent_id = \(id.rawValue))
              AND revoked_at IS NULL
            RETURNING id
            """
        )
        var count = 0
        for try await _ in rows.decode(UUID.self) { count += 1 }
        return count
    }
}

extension Session {
    /// The sealing context of a browser session's refresh token: bound to the MSP, the person, the session, the
    /// issuer and the client id it was issued to, so it opens for that session at that provider only (a copy in
    /// another row, or a provider reconfigured to another issuer or client, does not open it).
    package static func refreshTokenContext(
        msp: MSPID, person: PersonID, session: SessionID, issuer: String, clientID: String
    ) -> String {
        "charter.session.refresh-token/\(msp)/\(person)/\(session)/\(issuer.utf8.count):\(issuer)/\(clientID)"
    }
}
