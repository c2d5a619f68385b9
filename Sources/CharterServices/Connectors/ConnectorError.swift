
/// What the connector operations (enrollment, connector tokens, heartbeats, the admin API) refuse; the texts
/// are the details docs/connector-protocol.md and the admin API promise.
package enum ConnectorError: RefusalConvertible, Equatable {
    /// No key-encryption key is configured, so no challenge can be minted (503).
    case noKeyEncryptionKey
    /// The connector token is missing, unknown, replaced or revoked (401).
    case invalidConnectorToken
    /// The connector token expired; the connector can renew it (401 `token-expired`).
    case connectorTokenExpired
    /// The enrollment token is mistyped, expired, revoked, used up or meant for devices (401).
    case invalidEnrollmentToken
    /// A token renewal whose connector, challenge or signature does not hold (401).
    case renewalRefused
    /// The renewal's challenge is unknown, spent or expired (401).
    case staleChallenge
    /// A re-enrollment proof's challenge is unknown, spent or expired (422).
    case staleProofChallenge
    /// A re-enrollment proof names no connector of the tenant, or a revoked one (422).
    case unknownProofConnector
    /// A re-enrollment proof's signature does not verify with the connector's current key (422).
    case invalidProofSignature
    /// Another connector of the tenant registered the signing key (409 `signing-key-taken`).
    case signingKeyTaken
    /// No connector of the tenant has this id (404).
    case notFound
    /// Input that breaks a rule, with the pointer of the offending member (422).
    case invalid(String, field: String)

    package var refusal: Refusal {
        switch self {
        case .noKeyEncryptionKey:
            Refusal(
                .unavailable(retryAfterSeconds: nil),
                "No key-encryption key is configured (CHARTER_KEK or CHARTER_KEK_FILE), so challenges cannot be issued."
            )
        case .invalidConnectorToken:
            Refusal(.unauthenticated, "A valid connector token is required: send 'Authorization: Bearer chtk_…'.")
        case .connectorTokenExpired:
            Refusal(
                .credentialExpired,
                "The connector token expired; renew it with a signature by the connector key (POST /v1/connector/token)."
            )
        case .invalidEnrollmentToken:
            Refusal(
                .unauthenticated,
                "The enrollment token is not valid: it may be mistyped, expired, revoked or used up.",
                field: "/enrollment_token"
            )
        case .renewalRefused:
            Refusal(
                .unauthenticated,
                "The renewal is refused: unknown or revoked connector, or a challenge or signature that is not valid."
            )
        case .staleChallenge:
            Refusal(.unauthenticated, Self.staleChallengeDetail, field: "/nonce")
        case .staleProofChallenge:
            Refusal(.invalid, Self.staleChallengeDetail, field: "/proof/nonce")
        case .unknownProofConnector:
            Refusal(.invalid, "No connector of this tenant that is not revoked has this id.", field: "/proof/connector_id")
        case .invalidProofSignature:
            Refusal(.invalid, "The signature does not verify with the connector's current key.", field: "/proof/signature")
        case .signingKeyTaken:
            Refusal(
                .conflict, "Another connector of the tenant registered this signing key; generate a new key pair.",
                field: "/signing_key", code: "signing-key-taken"
            )
        case .notFound:
            Refusal(.notFound, "No such connector.")
        case .invalid(let detail, let field):
            Refusal(.invalid, detail, field: field)
        }
    }

    private static let staleChallengeDetail = "The challenge is unknown, used or expired: ask for a new one."
}
