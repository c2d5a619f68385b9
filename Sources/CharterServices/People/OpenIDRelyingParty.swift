import CharterBundle
package import CharterJSON
package import Foundation
import Synchronization

/// An answer of an identity provider's HTTP endpoint.
package struct OpenIDResponse: Sendable {
    package var status: Int
    package var body: Data

    package init(status: Int, body: Data) {
        self.status = status
        self.body = body
    }
}

/// How the relying party reaches a provider; the server's goes through the outbound guard (no redirects, the
/// checked address, a deadline and a size limit), as webhooks do.
package protocol OpenIDTransport: Sendable {
    /// `GET url` with `Accept: application/json`.
    func get(_ url: String) async throws -> OpenIDResponse
    /// `POST url` with a form body and, when given, HTTP Basic authentication.
    func postForm(_ url: String, fields: [(String, String)], basic: (user: String, password: String)?) async throws
        -> OpenIDResponse
}

/// What Charter uses of a provider's discovery document (OpenID Connect Discovery 1.0 §3).
package struct ProviderMetadata: Sendable, Hashable {
    package var issuer: String
    package var authorizationEndpoint: String
    package var tokenEndpoint: String
    package var jwksURI: String
    /// Whether the token endpoint takes the client secret in the form (`client_secret_post`) rather than by HTTP
    /// Basic (`client_secret_basic`, the default).
    package var postsClientSecret: Bool

    /// Reads a discovery document for `issuer`.
    ///
    /// - Throws: ``SignInError/providerUnavailable(_:)`` when it is not JSON, names another issuer (a mix-up),
    ///   lacks an endpoint, names an endpoint that is not https (or loopback http when allowed), or does not
    ///   support PKCE S256 or a client secret method Charter uses.
    package init(document: Data, issuer: String, allowsInsecureLoopback: Bool) throws(SignInError) {
        guard let object = try? JSONDecoder().decode(JSONValue.self, from: document).objectValue else {
            throw .providerUnavailable("the discovery document is not a JSON object")
        }
        guard object["issuer"]?.stringValue == issuer else {
            throw .providerUnavailable("the discovery document names another issuer than the configured one")
        }
        func endpoint(_ name: String) throws(SignInError) -> String {
            guard let value = object[name]?.stringValue, let url = URLComponents(string: value),
                let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
                scheme == "https"
                    || (scheme == "http" && allowsInsecureLoopback && IdentityProviderRules.isLoopback(host))
            else { throw .providerUnavailable("the discovery document has no usable \(name)") }
            return value
        }
        self.issuer = issuer
        authorizationEndpoint = try endpoint("authorization_endpoint")
        tokenEndpoint = try endpoint("token_endpoint")
        jwksURI = try endpoint("jwks_uri")
        if let methods = object["code_challenge_methods_supported"]?.arrayValue?.compactMap(\.stringValue),
            !methods.contains("S256")
        {
            throw .providerUnavailable("the provider does not support PKCE with S256")
        }
        let authMethods =
            object["token_endpoint_auth_methods_supported"]?.arrayValue?.compactMap(\.stringValue)
            ?? ["client_secret_basic"]
        if authMethods.contains("client_secret_basic") {
            postsClientSecret = false
        } else if authMethods.contains("client_secret_post") {
            postsClientSecret = true
        } else {
            throw .providerUnavailable("the token endpoint takes neither client_secret_basic nor client_secret_post")
        }
    }
}

/// The OpenID Connect relying party: discovery and JWKS per issuer (cached), the code exchange and ID token
/// validation.
///
/// Discovery documents are kept for an hour. A JWKS is kept for an hour too, and fetched again when a token
/// names a `kid` it does not hold (key rotation), at most once a minute per issuer, so forged tokens with
/// random `kid`s cannot make Charter hammer the provider.
package final class OpenIDRelyingParty: Sendable {
    private struct Cached<Value: Sendable>: Sendable {
        var value: Value
        var fetchedAt: Date
    }

    let transport: any OpenIDTransport
    let allowsInsecureLoopback: Bool
    let now: @Sendable () -> Date
    private let metadataCache = Mutex<[String: Cached<ProviderMetadata>]>([:])
    private let keysCache = Mutex<[String: Cached<Data>]>([:])

    /// How long discovery documents and key sets are kept.
    static let cacheLifetime: TimeInterval = 3600
    /// The least time between two fetches of one issuer's JWKS for unknown key ids.
    static let keyRefetchInterval: TimeInterval = 60

    package init(
        transport: any OpenIDTransport, allowsInsecureLoopback: Bool, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.transport = transport
        self.allowsInsecureLoopback = allowsInsecureLoopback
        self.now = now
    }

    /// The provider's metadata, from the cache or `{issuer}/.well-known/openid-configuration`.
    package func metadata(of issuer: String) async throws(SignInError) -> ProviderMetadata {
        let now = now()
        if let cached = metadataCache.withLock({ $0[issuer] }),
            now.timeIntervalSince(cached.fetchedAt) < Self.cacheLifetime
        {
            return cached.value
        }
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let response = try await fetch(base + "/.well-known/openid-configuration", step: "discovery")
        let metadata = try ProviderMetadata(
            document: response, issuer: issuer, allowsInsecureLoopback: allowsInsecureLoopback
        )
        metadataCache.withLock { $0[issuer] = Cached(value: metadata, fetchedAt: now) }
        return metadata
    }

    /// Exchanges an authorization code (with its PKCE verifier) for the provider's ID token.
    ///
    /// - Throws: ``SignInError/codeRefused`` when the provider refuses the grant (`invalid_grant`: a used, expired
    ///   or foreign code, or a verifier that does not match); ``SignInError/providerUnavailable(_:)`` when it
    ///   refuses Charter's client credentials or answers anything else.
    package func exchange(
        code: String, verifier: String, redirectURI: String, clientID: String, clientSecret: String,
        metadata: ProviderMetadata
    ) async throws(SignInError) -> String {
        var fields = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", verifier),
        ]
        var basic: (user: String, password: String)?
        if metadata.postsClientSecret {
            fields += [("client_id", clientID), ("client_secret", clientSecret)]
        } else {
            // RFC 6749 §2.3.1: both are form-encoded before they go into the Basic credentials.
            basic = (FormEncoding.encode(clientID), FormEncoding.encode(clientSecret))
        }
        let response: OpenIDResponse
        do {
            response = try await transport.postForm(metadata.tokenEndpoint, fields: fields, basic: basic)
        } catch {
            throw .providerUnavailable("the token endpoint could not be reached")
        }
        let object = try? JSONDecoder().decode(JSONValue.self, from: response.body).objectValue
        guard response.status == 200 else {
            switch (response.status, object?["error"]?.stringValue) {
            case (400...403, "invalid_client"?), (400...403, "unauthorized_client"?):
                throw .providerUnavailable("the provider refused Charter's client id or secret")
            case (400...403, _?):
                // `invalid_grant` (RFC 6749 §5.2), or a provider's own code such as glewlwyd's `invalid_code`.
                throw .codeRefused
            default:
                throw .providerUnavailable("the token endpoint answered HTTP \(response.status)")
            }
        }
        guard let idToken = object?["id_token"]?.stringValue else {
            throw .providerUnavailable("the token endpoint's answer has no id_token")
        }
        return idToken
    }

    /// Validates `idToken` against the provider's JWKS, fetching it again once for a `kid` it does not hold.
    package func validate(_ idToken: String, expecting: IDTokenExpectations, metadata: ProviderMetadata)
        async throws(SignInError) -> VerifiedIdentity
    {
        let now = now()
        let cached = keysCache.withLock { $0[metadata.issuer] }
        let keys: Data
        if let cached, now.timeIntervalSince(cached.fetchedAt) < Self.cacheLifetime {
            keys = cached.value
        } else {
            keys = try await fetchKeys(metadata, at: now)
        }
        do throws(SignInError) {
            return try await IDTokenValidator.validate(idToken, jwks: keys, expecting: expecting)
        } catch {
            guard error == .unknownKey else { throw error }
            let fetchedAt = keysCache.withLock { $0[metadata.issuer]?.fetchedAt } ?? .distantPast
            guard now.timeIntervalSince(fetchedAt) >= Self.keyRefetchInterval else { throw .unknownKey }
            let fresh = try await fetchKeys(metadata, at: now)
            return try await IDTokenValidator.validate(idToken, jwks: fresh, expecting: expecting)
        }
    }

    private func fetchKeys(_ metadata: ProviderMetadata, at now: Date) async throws(SignInError) -> Data {
        let keys = try await fetch(metadata.jwksURI, step: "the JWKS")
        keysCache.withLock { $0[metadata.issuer] = Cached(value: keys, fetchedAt: now) }
        return keys
    }

    private func fetch(_ url: String, step: String) async throws(SignInError) -> Data {
        let response: OpenIDResponse
        do {
            response = try await transport.get(url)
        } catch {
            throw .providerUnavailable("\(step) could not be fetched")
        }
        guard response.status == 200 else {
            throw .providerUnavailable("\(step) answered HTTP \(response.status)")
        }
        return response.body
    }
}

/// `application/x-www-form-urlencoded` (every byte but the unreserved ones percent-encoded).
package enum FormEncoding {
    package static func encode(_ text: String) -> String {
        let unreserved = CharacterSet(
            charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
        )
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    package static func encode(_ fields: [(String, String)]) -> String {
        fields.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }
}
