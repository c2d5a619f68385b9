package import CharterBundle
package import CharterCore
package import CharterStore
import Crypto
package import Foundation
package import Logging

/// The OpenID Connect sign-in of people (docs/identity.md, "The shape"): the authorization code flow with PKCE
/// S256, `state` and `nonce`, bound to the browser that started it, ending in ``SignInRecorder/signIn(_:refreshToken:msp:client:logger:)``.
///
/// Nothing here is audited: a sign-in attempt is not an admin action, and the recorder audits the sign-in itself.
package struct SignInService: Sendable {
    /// How long a sign-in may take, from the redirect to the provider until the callback.
    package static let attemptLifetime: TimeInterval = 600
    /// Sign-ins under way one MSP may have; past it new ones are refused until some expire.
    package static let maximumAttemptsPerMSP = 10_000

    /// A sign-in started: where to send the browser, and the `charter_sign_in` cookie's value.
    package struct Started: Sendable, Hashable {
        package var authorizationURL: String
        package var browserSecret: String
    }

    /// A sign-in completed: the session opened and where the browser goes now.
    package struct Completed: Sendable, Hashable {
        package var session: OpenedSession
        package var returnTo: String
    }

    let database: Database
    let sealer: SecretSealer?
    let relyingParty: OpenIDRelyingParty
    let recorder: any SignInRecorder
    /// `http.public_url` + `/v1/auth/callback`.
    let redirectURI: String
    let now: @Sendable () -> Date

    package init(
        database: Database, sealer: SecretSealer?, relyingParty: OpenIDRelyingParty, recorder: any SignInRecorder,
        redirectURI: String, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.sealer = sealer
        self.relyingParty = relyingParty
        self.recorder = recorder
        self.redirectURI = redirectURI
        self.now = now
    }

    /// Starts a sign-in to `msp`: reads its provider's metadata, records the attempt and says where to go.
    ///
    /// - Parameter returnTo: Where the browser goes after signing in; anything but a path on this service is `/`.
    /// - Throws: ``SignInError``: `.noProvider`, `.providerUnavailable`, `.keyUnavailable`, `.tooManyAttempts`.
    package func start(msp: MSPID, returnTo: String?, logger: Logger) async throws -> Started {
        guard let sealer else { throw SignInError.keyUnavailable }
        let provider: IdentityProvider
        do {
            provider = try await database.withMSP(msp, logger: logger) { tx in try await tx.identityProviders.get(msp) }
        } catch StoreError.notFound {
            throw SignInError.noProvider
        }
        let metadata = try await relyingParty.metadata(of: provider.issuer)
        let state = Self.randomToken()
        let nonce = Self.randomToken()
        let verifier = Self.randomToken()
        let browserSecret = Self.randomToken()
        let stateHash = Self.hash(state)
        let now = now()
        let attempt = SignInAttempt(
            stateHash: stateHash, mspID: msp, issuer: provider.issuer, clientID: provider.clientID, nonce: nonce,
            verifierSealed: try sealer.seal(verifier, context: Self.verifierContext(stateHash)).description,
            returnTo: Self.safeReturnTo(returnTo), browserHash: Self.hash(browserSecret), createdAt: now,
            expiresAt: now.addingTimeInterval(Self.attemptLifetime)
        )
        try await database.withMSP(msp, logger: logger) { tx in
            // Expired attempts go first, so they never count against the limit (else a flood would lock the
            // MSP out for good: nothing else drops them).
            try await tx.identityProviders.dropExpiredAttempts(msp, before: now)
            guard try await tx.identityProviders.attemptCount(msp) < Self.maximumAttemptsPerMSP else {
                throw SignInError.tooManyAttempts
            }
            try await tx.identityProviders.insert(attempt)
        }
        let query = FormEncoding.encode([
            ("response_type", "code"), ("client_id", provider.clientID), ("redirect_uri", redirectURI),
            ("scope", metadata.offersOfflineAccess ? "openid email profile offline_access" : "openid email profile"),
            ("state", state), ("nonce", nonce),
            ("code_challenge", Self.challenge(for: verifier)), ("code_challenge_method", "S256"),
        ])
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        return Started(authorizationURL: metadata.authorizationEndpoint + separator + query, browserSecret: browserSecret)
    }

    /// Completes a sign-in from the provider's redirect: takes the attempt of `state` (once, and only from the
    /// browser that started it), exchanges `code`, validates the ID token and hands the person to the recorder.
    ///
    /// - Parameters:
    ///   - error: The provider's `error` parameter, when it refused the sign-in itself.
    ///   - browserSecret: The `charter_sign_in` cookie's value.
    /// - Throws: ``SignInError`` naming what was wrong, or whatever the recorder refuses (a person without a
    ///   grant); nothing is stored on any failure.
    package func complete(
        code: String?, state: String?, error: String?, browserSecret: String?, client: ClientInfo, logger: Logger
    ) async throws -> Completed {
        if let error {
            let code = String(error.unicodeScalars.filter { ("a"..."z").contains($0) || $0 == "_" }.prefix(64))
            throw SignInError.providerDenied(code.isEmpty ? "no error code" : code)
        }
        guard let state, !state.isEmpty, state.utf8.count <= 200 else {
            throw SignInError.malformed("The state parameter is missing.", field: "state")
        }
        guard let code, !code.isEmpty, code.utf8.count <= 4096 else {
            throw SignInError.malformed("The code parameter is missing.", field: "code")
        }
        guard let browserSecret, !browserSecret.isEmpty else { throw SignInError.otherBrowser }
        guard let sealer else { throw SignInError.keyUnavailable }
        let stateHash = Self.hash(state)
        let taken = try await database.withoutTenant(logger: logger) { tx in
            try await tx.takeSignInAttempt(stateHash: stateHash, browserHash: Self.hash(browserSecret))
        }
        let attempt: SignInAttempt
        switch taken {
        case nil: throw SignInError.unknownState
        case .otherBrowser: throw SignInError.otherBrowser
        case .taken(let found): attempt = found
        }
        let now = now()
        guard now < attempt.expiresAt else { throw SignInError.attemptExpired }
        let provider: IdentityProvider
        do {
            provider = try await database.withMSP(attempt.mspID, logger: logger) { tx in
                try await tx.identityProviders.get(attempt.mspID)
            }
        } catch StoreError.notFound {
            throw SignInError.noProvider
        }
        guard provider.issuer == attempt.issuer, provider.clientID == attempt.clientID else {
            throw SignInError.providerChanged
        }
        let secret: String
        let verifier: String
        do {
            secret = try sealer.openString(
                provider.clientSecretSealed,
                context: IdentityProvider.sealingContext(
                    msp: provider.mspID, issuer: provider.issuer, clientID: provider.clientID
                )
            )
            verifier = try sealer.openString(attempt.verifierSealed, context: Self.verifierContext(stateHash))
        } catch {
            throw SignInError.keyUnavailable
        }
        let metadata = try await relyingParty.metadata(of: provider.issuer)
        let tokens = try await relyingParty.exchange(
            code: code, verifier: verifier, redirectURI: redirectURI, clientID: provider.clientID,
            clientSecret: secret, metadata: metadata
        )
        let identity = try await relyingParty.validate(
            tokens.idToken,
            expecting: IDTokenExpectations(
                issuer: provider.issuer, clientID: provider.clientID, nonce: attempt.nonce,
                groupsClaim: provider.groupsClaim, allowedEmailDomains: provider.allowedEmailDomains, now: now
            ),
            metadata: metadata
        )
        let session = try await recorder.signIn(
            identity, refreshToken: tokens.refreshToken.map { ProviderRefreshToken(token: $0, clientID: provider.clientID) },
            msp: provider.mspID, client: client, logger: logger
        )
        return Completed(session: session, returnTo: attempt.returnTo)
    }

    /// `returnTo` when it is a path on this service (`/…`, not `//…` or `/\…`, no control characters, at most
    /// 2000 characters), else `/`: a sign-in never sends the browser to another site.
    package static func safeReturnTo(_ returnTo: String?) -> String {
        guard let path = returnTo, path.hasPrefix("/"), !path.hasPrefix("//"), !path.hasPrefix("/\\"),
            path.utf8.count <= 2000,
            path.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "\\" })
        else { return "/" }
        return path
    }

    /// The PKCE S256 challenge of `verifier` (RFC 7636 §4.2).
    package static func challenge(for verifier: String) -> String {
        Base64URL.encode(Data(SHA256.hash(data: Data(verifier.utf8))))
    }

    static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Base64URL.encode($0) }
    }

    static func hash(_ text: String) -> Data {
        Data(SHA256.hash(data: Data(text.utf8)))
    }

    static func verifierContext(_ stateHash: Data) -> String {
        "charter.sign-in.verifier/" + Base64URL.encode(stateHash)
    }
}
