import CharterBundle

/// What enrollment, bundles and PIN answers need beyond the database: the key-encryption key (PIN secrets
/// and signing keys are sealed with it), the tenants' signing keys and the bundle maker.
struct EndpointServices: Sendable {
    let sealer: SecretSealer
    let keyring: SigningKeyring
    let bundles: BundleService
    /// The challenges devices sign, keyed by the key-encryption keys.
    let challenges: ServerChallenges

    init(sealer: SecretSealer) {
        self.sealer = sealer
        self.challenges = ServerChallenges(sealer: sealer)
        self.keyring = SigningKeyring(sealer: sealer)
        self.bundles = BundleService(keyring: keyring, sealer: sealer)
    }

    /// The services, or 503 when no key-encryption key is configured.
    static func require(_ services: EndpointServices?) throws -> EndpointServices {
        guard let services else {
            throw Problem(
                .serviceUnavailable,
                "No key-encryption key is configured (CHARTER_KEK or CHARTER_KEK_FILE), so device secrets and signing keys cannot be sealed."
            )
        }
        return services
    }
}
