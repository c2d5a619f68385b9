import CharterCore
import CharterServices
import CharterStore
import Foundation
import Hummingbird
import HummingbirdAuth
import HTTPTypes

/// Authenticates a person: the `charter_session` cookie (`chss_<session id>_<secret>`) or
/// `Authorization: Bearer chpt_<session id>_<secret>` (docs/identity.md).
///
/// One statement (`charter_private.person_session`) returns the session's hashes and lifetimes and the person's
/// grants worked out now; the secret is compared in constant time. An unknown, revoked, forged or expired (idle
/// or absolute) session leaves the request unauthenticated (401). A request authenticated by the cookie with a
/// method other than GET, HEAD or OPTIONS must repeat the CSRF token in `X-CSRF-Token`, else it is refused 403.
/// `last_used_at` is written at most once a minute, not on every request. A request with an `Authorization`
/// header is never authenticated by the cookie: an API key or token the caller chose wins.
///
/// A browser session whose refresh is due is refreshed at the identity provider by the request that finds it
/// so (``SessionRefreshService``) before its grants are used: a refusal ends it (401), new groups apply to this
/// very request, and a provider that cannot be reached leaves it on the groups last confirmed, for at most two
/// refresh intervals after the provider last vouched for the person (503 past that).
struct SessionAuthenticator: AuthenticatorMiddleware {
    typealias Context = AppRequestContext

    /// The browser session's cookie.
    static let cookieName = "charter_session"
    /// The header unsafe requests authenticated by the cookie repeat the CSRF token in.
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    let database: Database
    let lifetime: SessionLifetime
    var refreshPolicy = SessionRefreshPolicy()
    /// `nil` when sign-in is not configured: sessions are then never refreshed.
    var refresher: SessionRefreshService?
    var now: @Sendable () -> Date = { Date() }

    func authenticate(request: Request, context: AppRequestContext) async throws -> Principal? {
        let id: SessionID
        let secretMatches: ([UInt8]) -> Bool
        let byCookie: Bool
        if let authorization = request.headers[.authorization] {
            guard let token = PersonalToken(authorization: authorization) else { return nil }
            (id, secretMatches, byCookie) = (token.sessionID, token.matches, false)
        } else if let value = request.cookies[Self.cookieName]?.value, let cookie = SessionCookie(parsing: value) {
            (id, secretMatches, byCookie) = (SessionID(cookie.id.rawValue), cookie.matches, true)
        } else {
            return nil
        }
        let found = try await database.readWithoutTenant(logger: context.logger) { tx in
            try await tx.sessions.credential(for: id)
        }
        guard var credential = found, secretMatches(credential.secretHash) else { return nil }
        // A cookie names a browser session, a bearer token a token: one never stands in for the other.
        guard credential.kind == (byCookie ? .browser : .token) else { return nil }
        let now = now()
        switch lifetime.verdict(kind: credential.kind, lastUsedAt: credential.lastUsedAt, expiresAt: credential.expiresAt, now: now) {
        case .expired:
            return nil
        case .valid(let touch):
            if byCookie && !Self.isSafe(request.method) {
                guard let presented = request.headers[Self.csrfHeader], let expected = credential.csrfHash,
                    ConstantTime.equals(CSRFToken.hash(presented), expected)
                else {
                    throw Problem(
                        .forbidden, "A request with the session cookie must repeat the charter_csrf cookie in X-CSRF-Token.",
                        field: "X-CSRF-Token"
                    )
                }
            }
            if credential.kind == .browser, credential.refreshDueAt != nil {
                guard let current = try await afterRefresh(credential, id: id, now: now, context: context) else {
                    return nil
                }
                credential = current
            }
            // A person whose every grant went (a mapping or grant removed) is no longer let in.
            guard !credential.principal.grants.isEmpty else { throw PeopleError.noRole }
            if touch {
                try await database.readWithoutTenant(logger: context.logger) { tx in try await tx.sessions.touch(id, at: now) }
            }
            return credential.principal
        }
    }

    /// The credential after the session's refresh, when it is due; `nil` when the session is gone.
    ///
    /// - Throws: ``PeopleError/sessionEnded`` when the provider refused the refresh,
    ///   ``PeopleError/providerUnconfirmed`` when the groups last confirmed are too old to serve.
    private func afterRefresh(
        _ credential: SessionRepository.Credential, id: SessionID, now: Date, context: AppRequestContext
    ) async throws -> SessionRepository.Credential? {
        // Without sign-in configured nothing can refresh: sessions live on their sign-in's groups, as before.
        guard let refresher else { return credential }
        if refreshPolicy.isDue(credential.refreshDueAt, now: now) {
            let outcome = try await refresher.refresh(
                id, in: credential.principal.mspID, force: false, logger: context.logger
            )
            switch outcome {
            case .ended: throw PeopleError.sessionEnded
            case .kept(serving: false): throw PeopleError.providerUnconfirmed
            case .kept(serving: true): return credential
            case .renewed:
                // The grants follow the groups the provider stated now.
                return try await database.readWithoutTenant(logger: context.logger) { tx in
                    try await tx.sessions.credential(for: id)
                }
            }
        }
        guard refreshPolicy.serves(confirmedAt: credential.refreshedAt, now: now) else {
            throw PeopleError.providerUnconfirmed
        }
        return credential
    }

    static func isSafe(_ method: HTTPRequest.Method) -> Bool {
        method == .get || method == .head || method == .options
    }
}
