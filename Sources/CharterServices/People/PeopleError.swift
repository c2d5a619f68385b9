/// What the people service refuses: sign-ins without a role, and owners' mistakes managing people, grants,
/// role mappings and sessions.
package enum PeopleError: RefusalConvertible, Equatable {
    /// The person holds no grant in the MSP: no role mapping matches their groups and no direct grant exists.
    case noRole
    /// A claim of the identity (`iss`, `sub`, `email`) is empty or longer than Charter stores.
    case unusableClaim(String)
    /// A grant or mapping names a tenant that is not the MSP's (or was deleted).
    case unknownTenant(field: String)
    /// A role mapping's claim value is empty, longer than 500 characters or holds control characters.
    case invalidClaimValue
    /// A personal token is taken from a browser session, not from another token or an API key.
    case requiresBrowserSession
    /// The operation is a person's own (signing out, their sessions); an API key has none.
    case requiresPerson
    /// The identity provider refused to refresh the session (the person was disabled or signed out there, or
    /// lost every role): the session and the tokens taken from it were ended.
    case sessionEnded
    /// The identity provider could not be reached to refresh the session for longer than Charter serves groups
    /// it has not confirmed (two refresh intervals).
    case providerUnconfirmed

    package var refusal: Refusal {
        switch self {
        case .noRole:
            Refusal(
                .forbidden,
                "No role: none of the MSP's role mappings matches the person's groups and no direct grant exists.",
                code: "no-role"
            )
        case .unusableClaim(let claim):
            Refusal(.invalid, "The identity provider's '\(claim)' claim is empty or longer than Charter stores.", field: claim)
        case .unknownTenant(let field):
            Refusal(.invalid, "No such tenant in this MSP.", field: field)
        case .invalidClaimValue:
            Refusal(
                .invalid, "claim_value must have 1 to 500 characters and no control characters.", field: "/claim_value"
            )
        case .requiresBrowserSession:
            Refusal(.forbidden, "A personal token is taken from a browser session (the charter_session cookie).")
        case .requiresPerson:
            Refusal(.forbidden, "Only a person signed in through the MSP's identity provider has sessions.")
        case .sessionEnded:
            Refusal(
                .unauthenticated,
                "The session ended: the identity provider no longer confirms this person's access. Sign in again."
            )
        case .providerUnconfirmed:
            Refusal(
                .unavailable(retryAfterSeconds: 60),
                "The identity provider could not be reached to confirm this session's roles; try again shortly."
            )
        }
    }
}
