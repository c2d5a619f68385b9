package import CharterBundle
package import CharterCore
import CharterJSON
package import CharterStore
package import Foundation
package import Logging

/// Refreshes a browser session at the MSP's identity provider (docs/identity.md, "Refreshing sessions"): uses
/// the session's sealed refresh token at the token endpoint, validates what comes back as a sign-in's ID token
/// is validated (or reads the userinfo endpoint with the new access token when the answer has no ID token), and
/// works the person's grants out again from the groups the provider states now, exactly as a sign-in does.
///
/// The request that finds a session due calls this (``SessionRefreshPolicy``), and so does taking a personal
/// token. One request at a time refreshes a session: the others go on with the groups last confirmed while it
/// runs. A refusal ends the session and the tokens taken from it, audited as `session.refresh_refused`; new
/// groups are audited as `person.refreshed`; a provider that cannot be reached changes nothing but the time of
/// the next attempt.
package struct SessionRefreshService: Sendable {
    /// What a refresh did to the session.
    package enum Outcome: Sendable, Hashable {
        /// The provider vouched for the person again; their groups (and so grants) are the ones it states now.
        case renewed
        /// The provider refused, or the person has no role left: the session and its tokens were ended.
        case ended
        /// Nothing was confirmed now — the session has no refresh token, is not due, is being refreshed by
        /// another request, or the provider could not be reached; `serving` says whether the groups last
        /// confirmed may still be served.
        case kept(serving: Bool)
    }

    /// How long one refresh holds its session's claim; a refresh makes at most four provider requests, each
    /// within `webhooks.timeout_seconds`, so a claim outlives it unless the process dies.
    static let claimLifetime: TimeInterval = 120

    let database: Database
    let sealer: SecretSealer?
    let relyingParty: OpenIDRelyingParty
    let policy: SessionRefreshPolicy
    let now: @Sendable () -> Date

    package init(
        database: Database, sealer: SecretSealer?, relyingParty: OpenIDRelyingParty, policy: SessionRefreshPolicy,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.sealer = sealer
        self.relyingParty = relyingParty
        self.policy = policy
        self.now = now
    }

    private enum Claim {
        case claimed(SessionRepository.RefreshClaim, Person, IdentityProvider?)
        case notClaimed(serving: Bool)
    }

    private enum Attempt {
        case renewed(VerifiedIdentity, rotatedToken: String?)
        case refused(String)
        case unreachable(String)
    }

    /// Refreshes session `id` of `msp` when it is due (or whenever it has a refresh token, with `force`).
    ///
    /// - Throws: Only the database's failures; every answer of the provider is an ``Outcome``.
    package func refresh(_ id: SessionID, in msp: MSPID, force: Bool, logger: Logger) async throws -> Outcome {
        let started = now()
        let claim: Claim = try await database.withMSP(msp, logger: logger) { tx in
            let until = started.addingTimeInterval(Self.claimLifetime)
            switch try await tx.sessions.claimRefresh(id, msp: msp, now: started, until: until, force: force) {
            case .notClaimed(let hasRefreshToken, let refreshedAt):
                return .notClaimed(serving: !hasRefreshToken || policy.serves(confirmedAt: refreshedAt, now: started))
            case .claimed(let claimed):
                let person = try await tx.people.get(claimed.personID, msp: msp)
                let provider: IdentityProvider?
                do {
                    provider = try await tx.identityProviders.get(msp)
                } catch StoreError.notFound {
                    provider = nil
                }
                return .claimed(claimed, person, provider)
            }
        }
        let claimed: SessionRepository.RefreshClaim
        let person: Person
        let provider: IdentityProvider?
        switch claim {
        case .notClaimed(let serving):
            return .kept(serving: serving)
        case .claimed(let found, let foundPerson, let foundProvider):
            claimed = found
            person = foundPerson
            provider = foundProvider
        }
        let attempt = await ask(id, msp: msp, claim: claimed, person: person, provider: provider)
        let now = now()
        switch attempt {
        case .unreachable(let reason):
            logger.warning(
                "session refresh could not use the identity provider",
                metadata: ["msp.id": "\(msp)", "session.id": "\(id)", "reason": "\(reason)"]
            )
            let step = policy.step(after: .unreachable, confirmedAt: claimed.refreshedAt, now: now)
            guard case .retry(let retryAt, let serving) = step else { return .kept(serving: false) }
            try await database.withMSP(msp, logger: logger) { tx in
                try await tx.sessions.postponeRefresh(id, msp: msp, dueAt: retryAt)
            }
            return .kept(serving: serving)
        case .refused(let reason):
            try await database.withMSP(msp, logger: logger) { tx in
                try await end(id, of: person, msp: msp, reason: reason, at: now, tx: tx, logger: logger)
            }
            return .ended
        case .renewed(let identity, let rotatedToken):
            return try await renew(
                id, of: person, msp: msp, identity: identity, rotatedToken: rotatedToken, clientID: provider?.clientID,
                at: now, logger: logger
            )
        }
    }

    /// Asks the provider; every answer becomes an ``Attempt``.
    private func ask(
        _ id: SessionID, msp: MSPID, claim: SessionRepository.RefreshClaim, person: Person,
        provider: IdentityProvider?
    ) async -> Attempt {
        guard let provider, provider.issuer == person.issuer else {
            return .refused("the MSP's identity provider is no longer the one the person signed in with")
        }
        guard let sealer else { return .unreachable("no key-encryption key is configured") }
        let refreshToken: String
        do {
            refreshToken = try sealer.openString(
                claim.sealedToken,
                context: Session.refreshTokenContext(
                    msp: msp, person: person.id, session: id, issuer: provider.issuer, clientID: provider.clientID
                )
            )
        } catch {
            // Another client id since the sign-in (or a token copied from another row): not this provider's.
            return .refused("the refresh token was issued to another client of the provider")
        }
        let secret: String
        do {
            secret = try sealer.openString(
                provider.clientSecretSealed,
                context: IdentityProvider.sealingContext(msp: msp, issuer: provider.issuer, clientID: provider.clientID)
            )
        } catch {
            return .unreachable("the client secret cannot be opened with the configured key-encryption keys")
        }
        do throws(SignInError) {
            let metadata = try await relyingParty.metadata(of: provider.issuer)
            let answer = try await relyingParty.refresh(
                refreshToken, clientID: provider.clientID, clientSecret: secret, metadata: metadata
            )
            guard case .tokens(let idToken, let accessToken, let rotatedToken) = answer else {
                if case .refused(let code) = answer { return .refused("the provider refused the refresh (\(code))") }
                return .refused("the provider refused the refresh")
            }
            var expectations = IDTokenExpectations(
                issuer: provider.issuer, clientID: provider.clientID, nonce: nil, groupsClaim: provider.groupsClaim,
                allowedEmailDomains: provider.allowedEmailDomains, now: now()
            )
            expectations.subject = person.subject
            let identity: VerifiedIdentity
            if let idToken {
                identity = try await relyingParty.validate(idToken, expecting: expectations, metadata: metadata)
            } else if let accessToken {
                guard let claims = try await relyingParty.userInfo(accessToken: accessToken, metadata: metadata) else {
                    return .refused("the userinfo endpoint refused the refreshed access token")
                }
                identity = try IDTokenValidator.checkUserInfo(claims, expecting: expectations)
            } else {
                return .unreachable("the token endpoint's answer has neither an id_token nor an access_token")
            }
            return .renewed(identity, rotatedToken: rotatedToken)
        } catch {
            if case .providerUnavailable(let step) = error { return .unreachable(step) }
            return .refused(error.refusal.detail)
        }
    }

    /// Stores what the provider stated and confirms the session, or ends it when no role is left.
    private func renew(
        _ id: SessionID, of stored: Person, msp: MSPID, identity: VerifiedIdentity, rotatedToken: String?,
        clientID: String?, at now: Date, logger: Logger
    ) async throws -> Outcome {
        do throws(PeopleError) {
            try PeopleService.validate(identity)
        } catch {
            let reason = error.refusal.detail
            try await database.withMSP(msp, logger: logger) { tx in
                try await end(id, of: stored, msp: msp, reason: reason, at: now, tx: tx, logger: logger)
            }
            return .ended
        }
        return try await database.withMSP(msp, logger: logger) { tx in
            var person = try await tx.people.get(stored.id, msp: msp)
            let before = person
            person.email = identity.email
            person.name = identity.name.flatMap { PeopleService.clipped($0, to: 200) }
            person.groups = identity.groups
            let caller = PeopleService.caller(person, clientIP: nil, logger: logger)
            if person != before {
                try await tx.people.save(person)
                try await tx.audit.record(
                    "person.refreshed", on: ("person", person.id.description), before: before.auditSnapshot,
                    after: person.auditSnapshot, by: caller, at: now, in: .msp(msp)
                )
            }
            let grants = try await PeopleService.effectiveGrants(of: person, tx: tx)
            switch policy.step(after: .renewed(hasRole: !grants.isEmpty), confirmedAt: now, now: now) {
            case .confirm(let nextDueAt):
                var sealed: String?
                if let rotatedToken, let sealer, let clientID {
                    let context = Session.refreshTokenContext(
                        msp: msp, person: person.id, session: id, issuer: person.issuer, clientID: clientID
                    )
                    sealed = try sealer.seal(rotatedToken, context: context).description
                }
                try await tx.sessions.confirmRefresh(
                    id, msp: msp, sealedToken: sealed, refreshedAt: now, dueAt: nextDueAt
                )
                return .renewed
            case .end, .retry:
                try await end(id, of: person, msp: msp, reason: "no role is left", at: now, tx: tx, logger: logger)
                return .ended
            }
        }
    }

    /// Revokes the session and the tokens taken from it, audited as `session.refresh_refused` with the reason.
    private func end(
        _ id: SessionID, of person: Person, msp: MSPID, reason: String, at now: Date, tx: Transaction,
        logger: Logger
    ) async throws {
        guard try await tx.sessions.revoke(id, msp: msp, at: now) > 0 else { return }
        logger.info("session ended by its refresh", metadata: ["msp.id": "\(msp)", "session.id": "\(id)"])
        let snapshot: [String: any Sendable] = [
            "id": id.description, "person_id": person.id.description, "reason": reason,
        ]
        try await tx.audit.record(
            "session.refresh_refused", on: ("session", id.description), after: AuditJSON.encode(snapshot),
            by: PeopleService.caller(person, clientIP: nil, logger: logger), at: now, in: .msp(msp)
        )
    }
}
