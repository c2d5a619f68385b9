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
    /// `GET url` with `Accept: application/json` and, when given, `Authorization: Bearer <bearer>`.
    func get(_ url: String, bearer: String?) async throws -> OpenIDResponse
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
    /// Where the person's claims are read with an access token (`userinfo_endpoint`), when the provider has one:
    /// a refresh reads the groups there when the provider's answer carries no ID token.
    package var userinfoEndpoint: String?
    /// Whether `scopes_supported` lists `offline_access`: then a sign-in asks for it, which some providers
    /// (Entra ID, Okta) need before they issue a refresh token.
    package var offersOfflineAccess: Bool
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
        // Unusable, it only means refreshes without an ID token cannot read the groups: sign-in still works.
        userinfoEndpoint = object["userinfo_endpoint"] == nil ? nil : (try? endpoint("userinfo_endpoint"))
        offersOfflineAccess =
            object["scopes_supported"]?.arrayValue?.contains { $0.stringValue == "offline_access" } ?? false
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

    /// Exchanges an authorization code (with its PKCE verifier) for the provider's ID token and, when it issues
    /// one, a refresh token.
    ///
    /// - Throws: ``SignInError/codeRefused`` when the provider refuses the grant (`invalid_grant`: a used, expired
    ///   or foreign code, or a verifier that does not match); ``SignInError/providerUnavailable(_:)`` when it
    ///   refuses Charter's client credentials or answers anything else.
    package func exchange(
        code: String, verifier: String, redirectURI: String, clientID: String, clientSecret: String,
        metadata: ProviderMetadata
    ) async throws(SignInError) -> CodeExchange {
        var fields = [
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", verifier),
        ]
        let basic = Self.authenticate(&fields, clientID: clientID, clientSecret: clientSecret, metadata: metadata)
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
        return CodeExchange(idToken: idToken, refreshToken: Self.refreshToken(in: object))
    }

    /// Asks the token endpoint for fresh tokens with a refresh token (RFC 6749 §6).
    ///
    /// - Returns: The provider's tokens, or its refusal (``RefreshAnswer/refused(_:)``).
    /// - Throws: ``SignInError/providerUnavailable(_:)`` when it cannot be reached or answers a server error.
    package func refresh(
        _ refreshToken: String, clientID: String, clientSecret: String, metadata: ProviderMetadata
    ) async throws(SignInError) -> RefreshAnswer {
        var fields = [("grant_type", "refresh_token"), ("refresh_token", refreshToken)]
        let basic = Self.authenticate(&fields, clientID: clientID, clientSecret: clientSecret, metadata: metadata)
        let response: OpenIDResponse
        do {
            response = try await transport.postForm(metadata.tokenEndpoint, fields: fields, basic: basic)
        } catch {
            throw .providerUnavailable("the token endpoint could not be reached")
        }
        return try RefreshAnswer(status: response.status, body: response.body)
    }

    /// The person's claims from the userinfo endpoint (OpenID Connect Core 1.0 §5.3), read with `accessToken`.
    ///
    /// - Returns: The claims, or `nil` when the endpoint refused the access token or no longer knows the person
    ///   (401, 403, 404).
    /// - Throws: ``SignInError/providerUnavailable(_:)`` when there is no userinfo endpoint, it cannot be
    ///   reached, answers a server error, or answers something that is not a JSON object.
    package func userInfo(accessToken: String, metadata: ProviderMetadata) async throws(SignInError)
        -> [String: JSONValue]?
    {
        guard let endpoint = metadata.userinfoEndpoint else {
            throw .providerUnavailable("the provider has no userinfo endpoint")
        }
        let response: OpenIDResponse
        do {
            response = try await transport.get(endpoint, bearer: accessToken)
        } catch {
            throw .providerUnavailable("the userinfo endpoint could not be reached")
        }
        if [401, 403, 404].contains(response.status) { return nil }
        guard response.status == 200 else {
            throw .providerUnavailable("the userinfo endpoint answered HTTP \(response.status)")
        }
        guard let claims = try? JSONDecoder().decode(JSONValue.self, from: response.body).objectValue else {
            throw .providerUnavailable("the userinfo endpoint's answer is not a JSON object")
        }
        return claims
    }

    /// Adds the client's credentials to a token request: in the form (`client_secret_post`) or, returned, for
    /// HTTP Basic.
    private static func authenticate(
        _ fields: inout [(String, String)], clientID: String, clientSecret: String, metadata: ProviderMetadata
    ) -> (user: String, password: String)? {
        if metadata.postsClientSecret {
            fields += [("client_id", clientID), ("client_secret", clientSecret)]
            return nil
        }
        // RFC 6749 §2.3.1: both are form-encoded before they go into the Basic credentials.
        return (FormEncoding.encode(clientID), FormEncoding.encode(clientSecret))
    }

    /// A token answer's `refresh_token`, when it is a usable one (non-empty, at most 8 KiB: it is kept sealed).
    static func refreshToken(in object: [String: JSONValue]?) -> String? {
        guard let token = object?["refresh_token"]?.stringValue, !token.isEmpty, token.utf8.count <= 8192 else {
            return nil
        }
        return token
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
            response = try await transport.get(url, bearer: nil)
        } catch {
            throw .providerUnavailable("\(step) could not be fetched")
        }
        guard response.status == 200 else {
            throw .providerUnavailable("\(step) answered HTTP \(response.status)")
        }
        return response.body
    }
}

/// What the token endpoint answered a code with.
package struct CodeExchange: Sendable, Hashable {
    package var idToken: String
    /// Present when the provider issued one (and it fits: at most 8 KiB).
    package var refreshToken: String?
}

/// What the token endpoint answered a refresh token with (RFC 6749 §5.1, §5.2; OpenID Connect Core 1.0 §12.2).
package enum RefreshAnswer: Sendable, Hashable {
    /// New tokens. The ID token is optional on a refresh (glewlwyd sends none); `refreshToken` is a rotated
    /// refresh token that replaces the one used.
    case tokens(idToken: String?, accessToken: String?, refreshToken: String?)
    /// The provider refused the refresh token (revoked, expired, the person disabled); the text says how.
    case refused(String)

    /// Reads the token endpoint's answer.
    ///
    /// A 400 or 401 is the provider's refusal — `invalid_grant` as RFC 6749 names it, or no error code at all,
    /// as glewlwyd answers a revoked token — except `invalid_client` and `unauthorized_client`, which say
    /// Charter's own client credentials are wrong: that is the MSP's configuration, not the person, so it counts
    /// as the provider being unusable. Everything else that is not a 200 with a JSON object is unusable too.
    ///
    /// - Throws: ``SignInError/providerUnavailable(_:)``.
    package init(status: Int, body: Data) throws(SignInError) {
        let object = try? JSONDecoder().decode(JSONValue.self, from: body).objectValue
        let error = object?["error"]?.stringValue
        switch (status, error) {
        case (200, _):
            guard let object, error == nil else {
                throw .providerUnavailable("the token endpoint's answer is not a token response")
            }
            let idToken = object["id_token"]?.stringValue
            let accessToken = object["access_token"]?.stringValue
            guard idToken != nil || accessToken != nil else {
                throw .providerUnavailable("the token endpoint's answer has neither an id_token nor an access_token")
            }
            self = .tokens(
                idToken: idToken, accessToken: accessToken, refreshToken: OpenIDRelyingParty.refreshToken(in: object)
            )
        case (400...401, "invalid_client"?), (400...401, "unauthorized_client"?):
            throw .providerUnavailable("the provider refused Charter's client id or secret")
        case (400...401, let code):
            let named = code.map { String($0.unicodeScalars.filter { ("a"..."z").contains($0) || $0 == "_" }.prefix(64)) }
            self = .refused(named.map { $0.isEmpty ? "no error code" : $0 } ?? "no error code")
        default:
            throw .providerUnavailable("the token endpoint answered HTTP \(status)")
        }
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
