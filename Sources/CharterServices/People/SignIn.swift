package import CharterCore
package import Foundation
package import Logging

/// What the OpenID Connect flow proved about the person signing in: the ID token's claims after validation
/// (issuer, audience, expiry, signature, nonce) and the MSP's allowed email domains.
package struct VerifiedIdentity: Sendable, Hashable {
    /// The provider's issuer identifier (`iss`), exactly as configured.
    package var issuer: String
    /// The provider's stable identifier of the person (`sub`).
    package var subject: String
    package var email: String?
    package var name: String?
    /// The values of the provider's groups claim (the identity provider's `groups_claim`), as sent.
    package var groups: [String]

    package init(issuer: String, subject: String, email: String?, name: String?, groups: [String]) {
        self.issuer = issuer
        self.subject = subject
        self.email = email
        self.name = name
        self.groups = groups
    }
}

/// The browser session a sign-in opened.
package struct OpenedSession: Sendable, Hashable {
    package var id: SessionID
    package var personID: PersonID
    /// The `charter_session` cookie's value: the session's credential, shown only here.
    package var credential: String
    /// The `charter_csrf` cookie's value, which unsafe requests repeat in `X-CSRF-Token`.
    package var csrfToken: String
    /// When the session ends at the latest (its absolute lifetime).
    package var expiresAt: Date

    package init(id: SessionID, personID: PersonID, credential: String, csrfToken: String, expiresAt: Date) {
        self.id = id
        self.personID = personID
        self.credential = credential
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// Where a browser came from and with what, recorded with its session.
package struct ClientInfo: Sendable, Hashable {
    package var userAgent: String?
    package var ip: String?

    package init(userAgent: String?, ip: String?) {
        self.userAgent = userAgent
        self.ip = ip
    }
}

/// The refresh token a sign-in brought, and the client it was issued to (it is sealed bound to both).
package struct ProviderRefreshToken: Sendable, Hashable {
    package var token: String
    package var clientID: String

    package init(token: String, clientID: String) {
        self.token = token
        self.clientID = clientID
    }
}

/// Records a completed sign-in: the OpenID Connect flow (``VerifiedIdentity``) hands over to people and
/// sessions here.
///
/// The implementation creates or updates the person of `identity` in `msp`, works out their grants from the
/// MSP's role mappings and direct grants, refuses a person who ends up with none (a typed refusal: 403), and
/// opens a browser session — one transaction, audited as `person.signed_in` naming the person. A refresh
/// token, when the provider issued one, is kept sealed with the session for its refreshes.
package protocol SignInRecorder: Sendable {
    func signIn(
        _ identity: VerifiedIdentity, refreshToken: ProviderRefreshToken?, msp: MSPID, client: ClientInfo,
        logger: Logger
    ) async throws -> OpenedSession
}

extension SignInRecorder {
    /// A sign-in without a refresh token: the session is never refreshed.
    package func signIn(_ identity: VerifiedIdentity, msp: MSPID, client: ClientInfo, logger: Logger) async throws
        -> OpenedSession
    {
        try await signIn(identity, refreshToken: nil, msp: msp, client: client, logger: logger)
    }
}
