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
                   expires_at, grants
            FROM charter_private.person_session(\(id.rawValue))
            """
        )
        for try await row in rows.decode(
            (Data, Data?, String, UUID, UUID, String, String, String?, String?, Date, Date, [String]).self
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
                principal: Principal(person: person, name: row.7 ?? row.8 ?? row.6, msp: msp, grants: grants)
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
    package func create(_ session: Session, secretHash: [UInt8], csrfHash: [UInt8]?, parent: SessionID?) async throws {
        try await tx.query(
            """
            INSERT INTO sessions (msp_id, id, person_id, kind, secret_hash, csrf_hash, parent_id, created_at,
                                  last_used_at, expires_at, user_agent, ip)
            VALUES (\(session.mspID.rawValue), \(session.id.rawValue), \(session.personID.rawValue),
                    \(session.kind.rawValue), \(Data(secretHash)), \(csrfHash.map { Data($0) }),
                    \(parent?.rawValue), \(session.createdAt), \(session.lastUsedAt), \(session.expiresAt),
                    \(session.userAgent), \(session.ip))
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

    /// Revokes a session and the personal tokens taken from it; returns how many were revoked (0 when it
    /// already was).
    @discardableResult
    package func revoke(_ id: SessionID, msp: MSPID, at now: Date) async throws -> Int {
        let rows = try await tx.query(
            """
            UPDATE sessions SET revoked_at = \(now)
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
