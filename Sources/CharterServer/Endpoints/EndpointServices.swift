import CharterBundle

/// The key-encryption key's sealer, for what the admin API seals outside the endpoint service (webhook secrets).
struct EndpointServices: Sendable {
    let sealer: SecretSealer

    init(sealer: SecretSealer) {
        self.sealer = sealer
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
