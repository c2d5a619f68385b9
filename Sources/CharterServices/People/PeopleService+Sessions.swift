package import CharterCore
package import CharterStore
package import Foundation

extension PeopleService {
    /// The sessions and tokens of `msp` (or of one person) still alive, by id after `cursor`.
    package func sessions(
        of msp: MSPID, person: PersonID?, after cursor: SessionID?, limit: Int, by caller: Caller
    ) async throws -> [Session] {
        let now = now()
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            try await tx.sessions.listActive(msp: msp, person: person, at: now, after: cursor, limit: limit)
        }
    }

    /// Revokes a session (and the tokens taken from it), audited as `session.revoked`; revoking a revoked one
    /// changes and audits nothing.
    ///
    /// - Parameter person: The person the session must belong to (their own sessions), or `nil` (an MSP owner).
    /// - Throws: `StoreError.notFound` for a session not of `msp` (or not of `person`).
    package func revokeSession(_ id: SessionID, in msp: MSPID, person: PersonID?, by caller: Caller) async throws {
        let now = now()
        try await database.withMSP(msp, logger: caller.logger) { tx in
            let session = try await tx.sessions.get(id, msp: msp, person: person)
            guard try await tx.sessions.revoke(id, msp: msp, at: now) > 0 else { return }
            try await tx.audit.record(
                "session.revoked", on: ("session", id.description), after: session.auditSnapshot, by: caller,
                at: now, in: .msp(msp)
            )
        }
    }

    /// Ends the caller's own session or token (a browser session with the tokens taken from it), audited as
    /// `person.signed_out`.
    ///
    /// - Throws: ``PeopleError/requiresPerson`` for an API key.
    package func signOut(by caller: Caller) async throws {
        guard let principal = caller.principal, let person = principal.person, let id = person.sessionID else {
            throw PeopleError.requiresPerson
        }
        let now = now()
        try await database.withMSP(principal.mspID, logger: caller.logger) { tx in
            guard try await tx.sessions.revoke(id, msp: principal.mspID, at: now) > 0 else { return }
            try await tx.audit.record(
                "person.signed_out", on: ("session", id.description), by: caller, at: now, in: .msp(principal.mspID)
            )
        }
    }

    /// A new personal token (`chpt_`) for the caller's browser session, audited as `person.token_created`: it
    /// lives `session.token_minutes`, never beyond the session, and the person's grants are worked out again
    /// (a person who lost every grant gets none). A session with a refresh token is refreshed at the identity
    /// provider first, due or not (unless another request is refreshing it at that moment), so a token carries
    /// the groups the provider states now.
    ///
    /// - Throws: ``PeopleError/requiresBrowserSession`` unless the caller came with the session cookie;
    ///   ``PeopleError/noRole``; ``PeopleError/sessionEnded`` when the provider refused the refresh (the session
    ///   is ended); ``PeopleError/providerUnconfirmed`` when it could not be reached for too long.
    package func createToken(by caller: Caller, client: ClientInfo) async throws -> IssuedToken {
        guard let principal = caller.principal, let person = principal.person, let parent = person.sessionID,
            person.sessionKind == .browser
        else { throw PeopleError.requiresBrowserSession }
        let msp = principal.mspID
        if let refresher {
            switch try await refresher.refresh(parent, in: msp, force: true, logger: caller.logger) {
            case .ended: throw PeopleError.sessionEnded
            case .kept(serving: false): throw PeopleError.providerUnconfirmed
            case .renewed, .kept(serving: true): break
            }
        }
        let now = now()
        let token = PersonalToken.generate()
        let outcome: Result<IssuedToken, PeopleError> = try await database.withMSP(msp, logger: caller.logger) { tx in
            let session = try await tx.sessions.get(parent, msp: msp, person: person.id)
            let grants = try await Self.effectiveGrants(of: try await tx.people.get(person.id, msp: msp), tx: tx)
            guard !grants.isEmpty else { return .failure(.noRole) }
            let issued = Self.newSession(
                token.sessionID, of: person.id, in: msp, kind: .token, at: now,
                until: lifetime.tokenExpiry(now: now, sessionExpiresAt: session.expiresAt), client: client
            )
            try await tx.sessions.create(issued, secretHash: token.secretHash, csrfHash: nil, parent: parent)
            try await tx.audit.record(
                "person.token_created", on: ("session", issued.id.description), after: issued.auditSnapshot,
                by: caller, at: now, in: .msp(msp)
            )
            return .success(IssuedToken(session: issued, token: token.string))
        }
        return try outcome.get()
    }
}

extension Session {
    /// What the audit log keeps of a session: never its secrets or their hashes.
    package var auditSnapshot: String {
        var snapshot: [String: any Sendable] = [
            "id": id.description, "person_id": personID.description, "kind": kind.rawValue,
            "expires_at": expiresAt.ISO8601Format(),
        ]
        if let revokedAt { snapshot["revoked_at"] = revokedAt.ISO8601Format() }
        return AuditJSON.encode(snapshot)
    }
}
