/// A bundle that passed every check of ``BundleVerifier``, with what the agent needs to persist.
public struct VerifiedBundle: Sendable, Hashable {
    /// The verified claims.
    public let claims: BundleClaims
    /// The `kid` of the pinned key that signed the bundle.
    public let signingKeyID: String
    /// The compact JWE as received, to store as the cached bundle.
    public let compactSerialization: String

    /// The keys the agent trusts once it accepts this bundle: every entry of `signing_keys`
    /// that is not `retired`, with the validity the bundle gives it.
    public var trustedKeysAfterAcceptance: [BundleSigningKey] {
        claims.signingKeys.filter { $0.status != .retired }
    }
}
