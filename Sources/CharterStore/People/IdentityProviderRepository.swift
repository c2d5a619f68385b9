package import CharterCore
package import Foundation
import PostgresNIO

/// An MSP's OpenID Connect provider as stored: its client secret only sealed.
package struct IdentityProvider: Hashable, Sendable {
    package var mspID: MSPID
    /// The issuer identifier, exactly as the provider's discovery document and ID tokens state it.
    package var issuer: String
    package var clientID: String
    /// The client secret, sealed in ``IdentityProvider/sealingContext(msp:issuer:clientID:)``'s context.
    package var clientSecretSealed: String
    /// Lower-case domains an email address must be in (exactly, not a subdomain) to sign in.
    package var allowedEmailDomains: [String]
    /// The ID token claim holding the person's groups (or roles).
    package var groupsClaim: String
    package var version: Int64
    package var createdAt: Date
    package var updatedAt: Date

    package init(
        mspID: MSPID, issuer: String, clientID: String, clientSecretSealed: String, allowedEmailDomains: [String],
        groupsClaim: String, version: Int64, createdAt: Date, updatedAt: Date
    ) {
        self.mspID = mspID
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecretSealed = clientSecretSealed
        self.allowedEmailDomains = allowedEmailDomains
        self.groupsClaim = groupsClaim
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A sign-in under way, from `GET /v1/auth/sign-in` to the callback.
package struct SignInAttempt: Hashable, Sendable {
    /// SHA-256 of the `state` parameter.
    package var stateHash: Data
    package var mspID: MSPID
    package var issuer: String
    package var clientID: String
    package var nonce: String
    /// The PKCE code verifier, sealed.
    package var verifierSealed: String
    /// The path the browser returns to after signing in.
    package var returnTo: String
    /// SHA-256 of the `charter_sign_in` cookie's value.
    package var browserHash: Data
    package var createdAt: Date
    package var expiresAt: Date

    package init(
        stateHash: Data, mspID: MSPID, issuer: String, clientID: String, nonce: String, verifierSealed: String,
        returnTo: String, browserHash: Data, createdAt: Date, expiresAt: Date
    ) {
        self.stateHash = stateHash
        self.mspID = mspID
        self.issuer = issuer
        self.clientID = clientID
        self.nonce = nonce
        self.verifierSealed = verifierSealed
        self.returnTo = returnTo
        self.browserHash = browserHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// What taking an attempt by its `state` found.
package enum TakenSignInAttempt: Hashable, Sendable {
    /// The attempt, now deleted: it cannot be taken again.
    case taken(SignInAttempt)
    /// The attempt exists but another browser started it; it was left in place.
    case otherBrowser(msp: MSPID)
}

/// The MSP's identity provider (inside ``Database/withMSP(_:logger:_:)``).
package struct IdentityProviderRepository: Sendable {
    let tx: Transaction

    /// - Throws: ``StoreError/notFound`` when the MSP has none.
    package func get(_ msp: MSPID) async throws -> IdentityProvider {
        let rows = try await tx.query(
            """
            SELECT issuer, client_id, client_secret_sealed, allowed_email_domains, groups_claim, version, created_at,
                   updated_at
            FROM identity_providers WHERE msp_id = \(msp.rawValue)
            """
        )
        for try await (issuer, clientID, sealed, domains, claim, version, created, updated) in rows.decode(
            (String, String, String, [String], String, Int64, Date, Date).self
        ) {
            return IdentityProvider(
                mspID: msp, issuer: issuer, clientID: clientID, clientSecretSealed: sealed,
                allowedEmailDomains: domains, groupsClaim: claim, version: version, createdAt: created,
                updatedAt: updated
            )
        }
        throw StoreError.notFound
    }

    /// Stores `provider` as the MSP's, replacing any other; the version counts the writes.
    ///
    /// - Returns: The provider as stored (its version and creation time).
    package func put(_ provider: IdentityProvider) async throws -> IdentityProvider {
        let rows = try await tx.query(
            """
            INSERT INTO identity_providers (msp_id, issuer, client_id, client_secret_sealed, allowed_email_domains,
                                            groups_claim, version, created_at, updated_at)
            VALUES (\(provider.mspID.rawValue), \(provider.issuer), \(provider.clientID),
                    \(provider.clientSecretSealed), \(provider.allowedEmailDomains), \(provider.groupsClaim), 1,
                    \(provider.updatedAt), \(provider.updatedAt))
            ON CONFLICT (msp_id) DO UPDATE SET
                issuer = excluded.issuer, client_id = excluded.client_id,
                client_secret_sealed = excluded.client_secret_sealed,
                allowed_email_domains = excluded.allowed_email_domains, groups_claim = excluded.groups_claim,
                version = identity_providers.version + 1, updated_at = excluded.updated_at
            RETURNING version, created_at
            """
        )
        var stored = provider
        for try await (version, created) in rows.decode((Int64, Date).self) {
            stored.version = version
            stored.createdAt = created
        }
        return stored
    }

    /// Deletes the MSP's provider and the sign-ins started with it.
    ///
    /// - Returns: The deleted provider.
    /// - Throws: ``StoreError/notFound`` when the MSP has none.
    package func delete(_ msp: MSPID) async throws -> IdentityProvider {
        let provider = try await get(msp)
        try await tx.query("DELETE FROM sign_in_attempts WHERE msp_id = \(msp.rawValue)")
        try await tx.query("DELETE FROM identity_providers WHERE msp_id = \(msp.rawValue)")
        return provider
    }

    // MARK: - Sign-in attempts

    /// Drops the MSP's sign-in attempts that expired before `now`.
    package func dropExpiredAttempts(_ msp: MSPID, before now: Date) async throws {
        try await tx.query("DELETE FROM sign_in_attempts WHERE msp_id = \(msp.rawValue) AND expires_at < \(now)")
    }

    /// Records a sign-in attempt.
    package func insert(_ attempt: SignInAttempt) async throws {
        try await tx.query(
            """
            INSERT INTO sign_in_attempts (state_hash, msp_id, issuer, client_id, nonce, verifier_sealed, return_to,
                                          browser_hash, created_at, expires_at)
            VALUES (\(attempt.stateHash), \(attempt.mspID.rawValue), \(attempt.issuer), \(attempt.clientID),
                    \(attempt.nonce), \(attempt.verifierSealed), \(attempt.returnTo), \(attempt.browserHash),
                    \(attempt.createdAt), \(attempt.expiresAt))
            """
        )
    }

    /// How many attempts of the MSP are stored (tests prove that failures store nothing).
    package func attemptCount(_ msp: MSPID) async throws -> Int {
        let rows = try await tx.query("SELECT count(*)::bigint FROM sign_in_attempts WHERE msp_id = \(msp.rawValue)")
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}

extension Transaction {
    package var identityProviders: IdentityProviderRepository { IdentityProviderRepository(tx: self) }

    /// Takes the sign-in attempt of `stateHash` (once) if `browserHash` started it; before any MSP is set.
    ///
    /// - Returns: `nil` when no attempt has that state (never started, already taken, or deleted).
    package func takeSignInAttempt(stateHash: Data, browserHash: Data) async throws -> TakenSignInAttempt? {
        let rows = try await query(
            """
            SELECT msp_id, issuer, client_id, nonce, verifier_sealed, return_to, created_at, expires_at,
                   browser_matches
            FROM charter_private.take_sign_in_attempt(\(stateHash), \(browserHash))
            """
        )
        for try await (msp, issuer, clientID, nonce, sealed, returnTo, created, expires, matches) in rows.decode(
            (UUID, String?, String?, String?, String?, String?, Date, Date, Bool).self
        ) {
            guard matches, let issuer, let clientID, let nonce, let sealed, let returnTo else {
                return .otherBrowser(msp: MSPID(msp))
            }
            return .taken(
                SignInAttempt(
                    stateHash: stateHash, mspID: MSPID(msp), issuer: issuer, clientID: clientID, nonce: nonce,
                    verifierSealed: sealed, returnTo: returnTo, browserHash: browserHash, createdAt: created,
                    expiresAt: expires
                )
            )
        }
        return nil
    }
}

extension IdentityProvider {
    /// The context the client secret is sealed in: bound to the MSP, the issuer and the client id, so a secret
    /// copied to another MSP's row, or kept across a change of issuer or client id, does not open.
    package static func sealingContext(msp: MSPID, issuer: String, clientID: String) -> String {
        "charter.identity-provider.client-secret/\(msp)/\(issuer.utf8.count):\(issuer)/\(clientID)"
    }
}
