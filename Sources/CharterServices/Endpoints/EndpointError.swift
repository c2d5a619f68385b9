package import CharterCore

/// What the endpoint operations (enrollment, device tokens, bundles, PIN answers, signing keys) refuse; the
/// texts are the details docs/agent-protocol.md and the admin API promise.
package enum EndpointError: RefusalConvertible, Equatable {
    /// No key-encryption key is configured, so nothing can be sealed or unsealed (503).
    case noKeyEncryptionKey
    /// The tenant has no active bundle-signing key (503).
    case noActiveSigningKey
    /// A key rotation is announced and not yet done (409).
    case rotationAlreadyAnnounced
    /// The device token is unknown, replaced or revoked (401).
    case invalidDeviceToken
    /// The device token expired; the device can renew it (401 `token-expired`).
    case deviceTokenExpired
    /// The device waits for an administrator's approval (403).
    case pendingApproval
    /// The enrollment token is mistyped, expired, revoked or used up (401).
    case invalidEnrollmentToken
    /// A device-token renewal whose device, challenge or signature does not hold (401).
    case renewalRefused
    /// The renewal's challenge is unknown, spent or expired (401).
    case staleChallenge
    /// A re-enrollment proof's challenge is unknown, spent or expired (422).
    case staleProofChallenge
    /// A re-enrollment proof names no device of the tenant (422).
    case unknownProofDevice
    /// A re-enrollment proof names a revoked device (403).
    case revokedProofDevice
    /// A re-enrollment proof's signature does not verify with the device's key (422).
    case invalidProofSignature
    /// Another device of the tenant registered the signing key (422).
    case signingKeyTaken
    /// Approval of a device that is not waiting for it (409).
    case notPendingApproval
    /// Restore of a device that is not revoked (409).
    case notRevoked
    /// Restore of a device while another stands for the same computer (409).
    case computerTaken(by: DeviceID)
    /// A PIN answer for a revoked device (409).
    case deviceRevoked
    /// A PIN challenge that is not what the device shows (422).
    case invalidPINChallenge(length: Int)
    /// A PIN challenge answered before (409).
    case pinChallengeAnswered
    /// Input that breaks a rule, with the pointer of the offending member (422).
    case invalid(String, field: String)

    package var refusal: Refusal {
        switch self {
        case .noKeyEncryptionKey:
            Refusal(
                .unavailable(retryAfterSeconds: nil),
                "No key-encryption key is configured (CHARTER_KEK or CHARTER_KEK_FILE), so device secrets and signing keys cannot be sealed."
            )
        case .noActiveSigningKey:
            Refusal(.unavailable(retryAfterSeconds: nil), "The tenant has no active signing key.")
        case .rotationAlreadyAnnounced:
            Refusal(.conflict, "A rotation is already announced; wait until the next key is active.")
        case .invalidDeviceToken:
            Refusal(.unauthenticated, "A valid device token is required: send 'Authorization: Bearer chtd_…'.")
        case .deviceTokenExpired:
            Refusal(
                .credentialExpired,
                "The device token expired; renew it with a signature by the device key (POST /v1/agent/token)."
            )
        case .pendingApproval:
            Refusal(
                .pendingApproval,
                "The device waits for an administrator's approval: another device stands for this computer. Retry later."
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
                "The renewal is refused: unknown or revoked device, or a challenge or signature that is not valid."
            )
        case .staleChallenge:
            Refusal(.unauthenticated, Self.staleChallengeDetail, field: "/nonce")
        case .staleProofChallenge:
            Refusal(.invalid, Self.staleChallengeDetail, field: "/proof/nonce")
        case .unknownProofDevice:
            Refusal(.invalid, "No device of this tenant has this id.", field: "/proof/device_id")
        case .revokedProofDevice:
            Refusal(.forbidden, "The device is revoked; only an administrator can restore it.", field: "/proof/device_id")
        case .invalidProofSignature:
            Refusal(.invalid, "The signature does not verify with the device's current key.", field: "/proof/signature")
        case .signingKeyTaken:
            Refusal(
                .invalid, "Another device of the tenant registered this signing key; generate a new key pair.",
                field: "/signing_key"
            )
        case .notPendingApproval:
            Refusal(.conflict, "The device is not waiting for approval.")
        case .notRevoked:
            Refusal(.conflict, "The device is not revoked.")
        case .computerTaken(let other):
            Refusal(.conflict, "Device \(other) stands for the same computer; revoke it before restoring this one.")
        case .deviceRevoked:
            Refusal(.conflict, "The device is revoked; it has no PIN secret any more.")
        case .invalidPINChallenge(let length):
            Refusal(
                .invalid,
                "The challenge must be \(length) characters of Crockford base32, as shown on the device (e.g. K7M2-Q9XD).",
                field: "/challenge"
            )
        case .pinChallengeAnswered:
            Refusal(.conflict, "A response for this challenge was already given; ask the user for a new challenge.")
        case .invalid(let detail, let field):
            Refusal(.invalid, detail, field: field)
        }
    }

    private static let staleChallengeDetail = "The challenge is unknown, used or expired: ask for a new one."
}
