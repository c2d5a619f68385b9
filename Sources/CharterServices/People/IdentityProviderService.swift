package import CharterBundle
package import CharterCore
package import CharterStore
package import Foundation

/// What an MSP owner sends to configure the MSP's identity provider (`PUT /v1/msps/{msp}/identity-provider`).
package struct IdentityProviderDraft: Sendable, Hashable {
    package var issuer: String
    package var clientID: String
    /// The client secret; may be left out only when the issuer and client id stay the same.
    package var clientSecret: String?
    package var allowedEmailDomains: [String]
    package var groupsClaim: String

    package init(
        issuer: String, clientID: String, clientSecret: String?, allowedEmailDomains: [String], groupsClaim: String
    ) {
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.allowedEmailDomains = allowedEmailDomains
        self.groupsClaim = groupsClaim
    }
}

/// An MSP's OpenID Connect provider: configured by its owners, read by sign-in.
///
/// Each operation is one transaction on the MSP, audited in its chain (`identity_provider.configured`,
/// `identity_provider.deleted`) without the secret. Authorisation is the caller's.
package struct IdentityProviderService: Sendable {
    let database: Database
    /// Seals client secrets; `nil` without a key-encryption key (providers can then be read and deleted only).
    let sealer: SecretSealer?
    /// Whether an `http://` issuer on a loopback host is accepted (`identity.allow_insecure_http`, tests).
    let allowsInsecureLoopbackIssuer: Bool
    let now: @Sendable () -> Date

    package init(
        database: Database, sealer: SecretSealer?, allowsInsecureLoopbackIssuer: Bool = false,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.database = database
        self.sealer = sealer
        self.allowsInsecureLoopbackIssuer = allowsInsecureLoopbackIssuer
        self.now = now
    }

    /// The MSP's provider.
    ///
    /// - Throws: `StoreError.notFound` when none is configured.
    package func provider(of msp: MSPID, by caller: Caller) async throws -> IdentityProvider {
        try await database.withMSP(msp, logger: caller.logger) { tx in try await tx.identityProviders.get(msp) }
    }

    /// Checks `draft`, seals its secret bound to the issuer and client id, and stores it as the MSP's provider.
    ///
    /// - Throws: ``IdentityProviderError``: `.invalid` naming the field, `.secretRequired` when the issuer or client
    ///   id changes (or none was stored) without a secret, `.keyUnavailable` without a key-encryption key.
    package func configure(_ draft: IdentityProviderDraft, of msp: MSPID, by caller: Caller) async throws
        -> IdentityProvider
    {
        let checked = try IdentityProviderRules.check(draft, allowsInsecureLoopback: allowsInsecureLoopbackIssuer)
        guard let sealer else { throw IdentityProviderError.keyUnavailable }
        let now = now()
        let context = IdentityProvider.sealingContext(msp: msp, issuer: checked.issuer, clientID: checked.clientID)
        return try await database.withMSP(msp, logger: caller.logger) { tx in
            let before: IdentityProvider?
            do {
                before = try await tx.identityProviders.get(msp)
            } catch StoreError.notFound {
                before = nil
            }
            let sealed: String
            if let secret = checked.clientSecret {
                sealed = try sealer.seal(secret, context: context).description
            } else if let before, before.issuer == checked.issuer, before.clientID == checked.clientID {
                sealed = before.clientSecretSealed
            } else {
                throw IdentityProviderError.secretRequired
            }
            let stored = try await tx.identityProviders.put(
                IdentityProvider(
                    mspID: msp, issuer: checked.issuer, clientID: checked.clientID, clientSecretSealed: sealed,
                    allowedEmailDomains: checked.allowedEmailDomains, groupsClaim: checked.groupsClaim, version: 1,
                    createdAt: now, updatedAt: now
                )
            )
            try await tx.audit.record(
                "identity_provider.configured", on: ("identity_provider", msp.description),
                before: before?.auditSnapshot(secretChanged: false),
                after: stored.auditSnapshot(secretChanged: checked.clientSecret != nil), by: caller, at: now,
                in: .msp(msp)
            )
            return stored
        }
    }

    /// Removes the MSP's provider (and the sign-ins under way with it): nobody signs in until one is configured.
    ///
    /// - Throws: `StoreError.notFound` when none is configured.
    package func delete(of msp: MSPID, by caller: Caller) async throws {
        let now = now()
        try await database.withMSP(msp, logger: caller.logger) { tx in
            let deleted = try await tx.identityProviders.delete(msp)
            try await tx.audit.record(
                "identity_provider.deleted", on: ("identity_provider", msp.description),
                before: deleted.auditSnapshot(secretChanged: false), by: caller, at: now, in: .msp(msp)
            )
        }
    }
}

/// What the identity provider configuration refuses.
package enum IdentityProviderError: RefusalConvertible, Equatable {
    /// A value breaks a rule; `field` is its JSON pointer.
    case invalid(String, field: String)
    /// The issuer or client id changed, or no secret is stored, and the request has none.
    case secretRequired
    /// No key-encryption key is configured, so the client secret cannot be sealed.
    case keyUnavailable

    package var refusal: Refusal {
        switch self {
        case .invalid(let detail, let field): Refusal(.invalid, detail, field: field)
        case .secretRequired:
            Refusal(
                .invalid,
                "client_secret is required when the provider is first configured and whenever issuer or client_id "
                    + "changes: the stored secret is only ever sent to the provider it was given for.",
                field: "/client_secret"
            )
        case .keyUnavailable:
            Refusal(
                .unavailable(retryAfterSeconds: nil),
                "No key-encryption key is configured (CHARTER_KEK or CHARTER_KEK_FILE), so the client secret cannot "
                    + "be sealed."
            )
        }
    }
}

/// The rules of an identity provider's configuration (pure).
package enum IdentityProviderRules {
    /// Checks and normalises `draft`: the issuer an https URL without query or fragment (or http on a loopback
    /// host when `allowsInsecureLoopback`), a client id and secret of printable characters, 1–50 distinct
    /// lower-cased domain names, a groups claim name of 1–100 printable ASCII characters.
    ///
    /// - Throws: ``IdentityProviderError/invalid(_:field:)`` for the first value that breaks a rule.
    package static func check(_ draft: IdentityProviderDraft, allowsInsecureLoopback: Bool) throws(
        IdentityProviderError
    ) -> IdentityProviderDraft {
        var checked = draft
        checked.issuer = try issuer(draft.issuer, allowsInsecureLoopback: allowsInsecureLoopback)
        guard (1...500).contains(draft.clientID.unicodeScalars.count), isPrintable(draft.clientID) else {
            throw .invalid("client_id must have 1 to 500 printable characters.", field: "/client_id")
        }
        if let secret = draft.clientSecret {
            guard (1...1000).contains(secret.unicodeScalars.count), isPrintable(secret) else {
                throw .invalid("client_secret must have 1 to 1000 printable characters.", field: "/client_secret")
            }
        }
        guard (1...50).contains(draft.allowedEmailDomains.count) else {
            throw .invalid(
                "allowed_email_domains must list 1 to 50 domains: only people whose email is in one of them sign in.",
                field: "/allowed_email_domains"
            )
        }
        var domains: [String] = []
        for (index, raw) in draft.allowedEmailDomains.enumerated() {
            let domain = raw.lowercased()
            guard isDomainName(domain) else {
                throw .invalid(
                    "'\(raw.prefix(100))' is not a domain name such as example.com.",
                    field: "/allowed_email_domains/\(index)"
                )
            }
            if !domains.contains(domain) { domains.append(domain) }
        }
        checked.allowedEmailDomains = domains
        guard (1...100).contains(draft.groupsClaim.unicodeScalars.count),
            draft.groupsClaim.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) })
        else {
            throw .invalid(
                "groups_claim must be a claim name of 1 to 100 printable ASCII characters without spaces.",
                field: "/groups_claim"
            )
        }
        return checked
    }

    /// The issuer, checked: `https://host[:port][/path]`, or `http://` on a loopback host when allowed; no
    /// query, fragment or user info; a trailing `/` kept as given (the ID token's `iss` must match exactly).
    static func issuer(_ raw: String, allowsInsecureLoopback: Bool) throws(IdentityProviderError) -> String {
        let field = "/issuer"
        guard raw.unicodeScalars.count <= 2000, let url = URLComponents(string: raw), let scheme = url.scheme?.lowercased(),
            let host = url.host, !host.isEmpty
        else { throw .invalid("issuer must be an absolute https URL such as https://login.example.com.", field: field) }
        guard url.query == nil, url.fragment == nil, url.user == nil, url.password == nil else {
            throw .invalid("issuer must not have a query, fragment or user info.", field: field)
        }
        switch scheme {
        case "https": return raw
        case "http" where allowsInsecureLoopback && isLoopback(host): return raw
        case "http" where allowsInsecureLoopback:
            throw .invalid(
                "issuer may use http:// only on a loopback host (127.0.0.1, ::1, localhost); use https://.",
                field: field
            )
        default: throw .invalid("issuer must be an https URL.", field: field)
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" { return true }
        guard let address = IPAddress(bare) else { return false }
        return DestinationPolicy(allowedNetworks: [], ownAddresses: []).decide(address) == .refused(.loopback)
    }

    static func isPrintable(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }

    /// A DNS name of at least two labels, each 1–63 letters, digits or hyphens, not starting or ending with one.
    static func isDomainName(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard text.unicodeScalars.count <= 253, labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        }
    }
}

extension IdentityProvider {
    /// What the audit log keeps of a provider: never its secret.
    func auditSnapshot(secretChanged: Bool) -> String {
        AuditJSON.encode([
            "issuer": issuer, "client_id": clientID, "allowed_email_domains": allowedEmailDomains,
            "groups_claim": groupsClaim, "client_secret_changed": secretChanged,
        ])
    }
}
