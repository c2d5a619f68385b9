/// Why a sign-in was refused. Each case names what was wrong; none changed anything.
package enum SignInError: RefusalConvertible, Equatable {
    /// The MSP has no identity provider (or the `msp` parameter names none).
    case noProvider
    /// A query parameter is missing or malformed; `field` names it.
    case malformed(String, field: String)
    /// No sign-in is under way with this `state`: never started, already used, or expired and purged.
    case unknownState
    /// The attempt's 10 minutes are over.
    case attemptExpired
    /// The browser's `charter_sign_in` cookie is missing or is not the one of the browser that started it.
    case otherBrowser
    /// The provider answered the authorization request with an error (`error` parameter, sanitised).
    case providerDenied(String)
    /// The provider refused the code (reused, expired, or the PKCE verifier or client secret did not match).
    case codeRefused
    /// The ID token failed validation; the text says which check.
    case invalidToken(String)
    /// The ID token is signed with a key the provider's JWKS does not hold (even after fetching it again).
    case unknownKey
    /// The person's email is missing, unverified or not in the MSP's allowed domains.
    case emailNotAllowed(String)
    /// The provider could not be reached or answered something unusable; the text says which step.
    case providerUnavailable(String)
    /// The MSP's provider changed (issuer or client id) while the sign-in was under way.
    case providerChanged
    /// The MSP has too many sign-ins under way.
    case tooManyAttempts
    /// The stored client secret or verifier cannot be opened (no or another key-encryption key).
    case keyUnavailable

    package var refusal: Refusal {
        switch self {
        case .noProvider:
            Refusal(.notFound, "This MSP has no identity provider configured.", field: "msp")
        case .malformed(let detail, let field):
            Refusal(.malformed, detail, field: field)
        case .unknownState:
            Refusal(
                .malformed, "No sign-in is under way with this state: it was used already, expired or never started.",
                field: "state"
            )
        case .attemptExpired:
            Refusal(.malformed, "This sign-in took longer than 10 minutes; start again.", field: "state")
        case .otherBrowser:
            Refusal(
                .forbidden,
                "This sign-in was started in another browser (the charter_sign_in cookie is missing or differs).",
                field: "charter_sign_in"
            )
        case .providerDenied(let error):
            Refusal(.unauthenticated, "The identity provider refused the sign-in (\(error)).", field: "error")
        case .codeRefused:
            Refusal(
                .unauthenticated, "The identity provider refused the authorization code (used already or expired).",
                field: "code"
            )
        case .invalidToken(let reason):
            Refusal(.unauthenticated, "The ID token is not valid: \(reason).", field: "id_token")
        case .unknownKey:
            Refusal(
                .unauthenticated, "The ID token is not valid: it is signed with a key the provider does not publish.",
                field: "id_token"
            )
        case .emailNotAllowed(let reason):
            Refusal(.forbidden, reason, field: "email")
        case .providerUnavailable(let step):
            Refusal(.unavailable(retryAfterSeconds: nil), "The identity provider could not be used: \(step).")
        case .providerChanged:
            Refusal(
                .conflict, "The MSP's identity provider was reconfigured during this sign-in; start again.",
                field: "state"
            )
        case .tooManyAttempts:
            Refusal(.busy(retryAfterSeconds: 60), "Too many sign-ins to this MSP are under way; try again shortly.")
        case .keyUnavailable:
            Refusal(
                .unavailable(retryAfterSeconds: nil),
                "The identity provider's client secret cannot be opened with the configured key-encryption keys."
            )
        }
    }
}
