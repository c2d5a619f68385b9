import CharterBundle
package import CharterJSON
package import Foundation
import JWTKit

/// What an ID token must say to be accepted for one sign-in attempt.
package struct IDTokenExpectations: Sendable, Hashable {
    /// The issuer the attempt was started with (`iss` must equal it exactly).
    package var issuer: String
    /// Charter's client id at the provider (`aud` must contain it; `azp`, when present or needed, equal it).
    package var clientID: String
    /// The attempt's nonce (`nonce` must equal it); `nil` on a refresh, whose ID token comes straight from the
    /// token endpoint (the nonce guards the browser's leg, where a token could be injected, and OpenID Connect
    /// Core §12.2 lets a refreshed ID token omit it).
    package var nonce: String?
    /// The person the token must name (`sub`), on a refresh: the person of the session refreshed.
    package var subject: String?
    /// The claim holding the person's groups.
    package var groupsClaim: String
    /// Lower-case domains the email must be in.
    package var allowedEmailDomains: [String]
    package var now: Date
    /// Tolerated clock difference for `exp`, `iat` and `nbf`.
    package var leeway: TimeInterval = 60

    package init(
        issuer: String, clientID: String, nonce: String?, groupsClaim: String, allowedEmailDomains: [String], now: Date
    ) {
        self.issuer = issuer
        self.clientID = clientID
        self.nonce = nonce
        self.groupsClaim = groupsClaim
        self.allowedEmailDomains = allowedEmailDomains
        self.now = now
    }
}

/// Validates an OpenID Connect ID token (OpenID Connect Core 1.0 §3.1.3.7) against the provider's JWKS.
///
/// The signature is checked with vapor/jwt-kit using exactly the key the header's `kid` names, for the
/// algorithms RS256, ES256 and EdDSA (Ed25519) only, with the key's type matching the algorithm: `none`, HMAC
/// (a public key used as a shared secret) and anything else are refused before any key is touched. The claims
/// are then checked here against ``IDTokenExpectations``.
package enum IDTokenValidator {
    /// The algorithms accepted, and the JWK key type and curve each needs.
    static let algorithms: [String: (kty: String, crv: String?)] = [
        "RS256": ("RSA", nil), "ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519"), "Ed25519": ("OKP", "Ed25519"),
    ]

    /// The `kid` of `token`'s header, after checking the header's algorithm is one accepted.
    ///
    /// - Throws: ``SignInError/invalidToken(_:)``.
    package static func keyID(of token: String) throws(SignInError) -> String? {
        try header(of: token).kid
    }

    /// Validates `token` with the key of `jwks` its header names and returns who it proves.
    ///
    /// - Throws: ``SignInError/unknownKey`` when `jwks` holds no key of that `kid` (the caller may fetch the JWKS
    ///   again); ``SignInError/invalidToken(_:)``, ``SignInError/emailNotAllowed(_:)``.
    package static func validate(_ token: String, jwks: Data, expecting: IDTokenExpectations) async throws(SignInError)
        -> VerifiedIdentity
    {
        let header = try header(of: token)
        let keys = try await keyCollection(for: header, jwks: jwks)
        do {
            _ = try await keys.verify(token, as: SignedPayload.self)
        } catch {
            throw .invalidToken("the signature does not verify")
        }
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard let payload = Base64URL.decode(segments[1]),
            let claims = try? JSONDecoder().decode(JSONValue.self, from: payload).objectValue
        else { throw .invalidToken("the payload is not a JSON object") }
        return try check(claims, expecting: expecting)
    }

    /// Checks the claims of a token whose signature verified (pure).
    ///
    /// - Throws: ``SignInError/invalidToken(_:)`` for the first claim that fails, ``SignInError/emailNotAllowed(_:)``.
    package static func check(_ claims: [String: JSONValue], expecting: IDTokenExpectations) throws(SignInError)
        -> VerifiedIdentity
    {
        guard claims["iss"]?.stringValue == expecting.issuer else {
            throw .invalidToken("it was issued by another issuer than the MSP's provider")
        }
        guard let subject = claims["sub"]?.stringValue, (1...255).contains(subject.utf8.count) else {
            throw .invalidToken("it has no subject")
        }
        if let expected = expecting.subject, subject != expected {
            throw .invalidToken("it names another person than the session's")
        }
        let audiences: [String]
        switch claims["aud"] {
        case .string(let one): audiences = [one]
        case .array(let many): audiences = many.compactMap(\.stringValue)
        default: throw .invalidToken("it has no audience")
        }
        guard audiences.contains(expecting.clientID) else { throw .invalidToken("it was issued for another client") }
        let azp = claims["azp"]?.stringValue
        if audiences.count > 1 || azp != nil, azp != expecting.clientID {
            throw .invalidToken("it was issued for another client (azp)")
        }
        let now = expecting.now.timeIntervalSince1970
        guard let exp = seconds(claims["exp"]) else { throw .invalidToken("it has no expiry") }
        guard now <= exp + expecting.leeway else { throw .invalidToken("it expired") }
        guard let iat = seconds(claims["iat"]) else { throw .invalidToken("it has no issue time") }
        guard iat <= now + expecting.leeway else { throw .invalidToken("it was issued in the future") }
        if let nbf = seconds(claims["nbf"]), nbf > now + expecting.leeway {
            throw .invalidToken("it is not valid yet")
        }
        if let expected = expecting.nonce {
            guard let nonce = claims["nonce"]?.stringValue, ConstantTime.equals(Array(nonce.utf8), Array(expected.utf8))
            else { throw .invalidToken("its nonce is not the one of this sign-in") }
        }
        return try identity(subject: subject, claims: claims, expecting: expecting)
    }

    /// Who the userinfo endpoint's claims describe, on a refresh: they must name the session's person
    /// (`expecting.subject`; OpenID Connect Core 1.0 §5.3.2), and the email and groups are checked as an ID
    /// token's are.
    ///
    /// - Throws: ``SignInError/invalidToken(_:)`` (another or no `sub`, a malformed groups claim),
    ///   ``SignInError/emailNotAllowed(_:)``.
    package static func checkUserInfo(_ claims: [String: JSONValue], expecting: IDTokenExpectations) throws(SignInError)
        -> VerifiedIdentity
    {
        guard let subject = claims["sub"]?.stringValue, subject == expecting.subject else {
            throw .invalidToken("the userinfo answer names another person than the session's")
        }
        return try identity(subject: subject, claims: claims, expecting: expecting)
    }

    /// The email (checked) and groups of validated claims.
    static func identity(subject: String, claims: [String: JSONValue], expecting: IDTokenExpectations)
        throws(SignInError) -> VerifiedIdentity
    {
        let email = claims["email"]?.stringValue
        try checkEmail(email, verified: claims["email_verified"], allowed: expecting.allowedEmailDomains)
        let groups: [String]
        switch claims[expecting.groupsClaim] {
        case nil, .null: groups = []
        case .string(let one): groups = [one]
        case .array(let many):
            guard many.allSatisfy({ $0.stringValue != nil }) else {
                throw .invalidToken("the \(expecting.groupsClaim) claim is not an array of strings")
            }
            groups = many.compactMap(\.stringValue)
        default: throw .invalidToken("the \(expecting.groupsClaim) claim is not a string or an array of strings")
        }
        return VerifiedIdentity(
            issuer: expecting.issuer, subject: subject, email: email, name: claims["name"]?.stringValue,
            groups: groups
        )
    }

    /// The email must be present, not marked unverified, and exactly in an allowed domain.
    static func checkEmail(_ email: String?, verified: JSONValue?, allowed: [String]) throws(SignInError) {
        guard let email, let at = email.lastIndex(of: "@"), at != email.startIndex else {
            throw .emailNotAllowed("The ID token has no email address; the MSP admits people by their email domain.")
        }
        if case .bool(false) = verified {
            throw .emailNotAllowed("The identity provider has not verified this person's email address.")
        }
        let domain = email[email.index(after: at)...].lowercased()
        guard allowed.contains(domain) else {
            throw .emailNotAllowed("The email domain \(domain.prefix(100)) is not one of the MSP's allowed domains.")
        }
    }

    static func seconds(_ value: JSONValue?) -> Double? {
        switch value {
        case .integer(let integer): Double(integer)
        case .number(let number): number
        default: nil
        }
    }

    /// The protected header's `alg` (accepted ones only) and `kid`.
    static func header(of token: String) throws(SignInError) -> (alg: String, kid: String?) {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let data = Base64URL.decode(segments[0]),
            let header = try? JSONDecoder().decode(JSONValue.self, from: data).objectValue
        else { throw .invalidToken("it is not a signed JWT in compact form") }
        guard let alg = header["alg"]?.stringValue, algorithms[alg] != nil else {
            let named = header["alg"]?.stringValue ?? "no algorithm"
            throw .invalidToken("it is signed with \(named), not RS256, ES256 or EdDSA")
        }
        if header["crit"] != nil { throw .invalidToken("its header has critical extensions") }
        return (alg, header["kid"]?.stringValue)
    }

    /// A key collection holding only the JWK of `jwks` that `header` names, as a key of the header's algorithm.
    static func keyCollection(for header: (alg: String, kid: String?), jwks: Data) async throws(SignInError)
        -> JWTKeyCollection
    {
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: jwks).objectValue,
            let keys = document["keys"]?.arrayValue?.compactMap(\.objectValue)
        else { throw .invalidToken("the provider's JWKS is not a key set") }
        guard let expected = algorithms[header.alg] else { throw .invalidToken("its algorithm is not accepted") }
        // Without a kid only a provider with a single key of the right type is unambiguous.
        let candidates = keys.filter { key in
            key["kty"]?.stringValue == expected.kty && (key["use"]?.stringValue ?? "sig") == "sig"
                && (header.kid == nil || key["kid"]?.stringValue == header.kid)
        }
        guard candidates.count == 1, let jwk = candidates.first else {
            if header.kid == nil, candidates.count > 1 { throw .invalidToken("its header names no key (kid)") }
            throw .unknownKey
        }
        if let alg = jwk["alg"]?.stringValue, alg != header.alg, !(alg == "EdDSA" && header.alg == "Ed25519") {
            throw .invalidToken("the key it names is for \(alg), not \(header.alg)")
        }
        let collection = JWTKeyCollection()
        do {
            switch expected.kty {
            case "RSA":
                guard let n = jwk["n"]?.stringValue, let e = jwk["e"]?.stringValue else { throw SignInError.unknownKey }
                let key = try Insecure.RSA.PublicKey(modulus: n, exponent: e)
                await collection.add(rsa: key, digestAlgorithm: .sha256)
            case "EC":
                guard jwk["crv"]?.stringValue == expected.crv, let x = jwk["x"]?.stringValue,
                    let y = jwk["y"]?.stringValue
                else { throw SignInError.invalidToken("the key it names is not a P-256 key") }
                await collection.add(ecdsa: try ES256PublicKey(parameters: (x, y)))
            default:
                guard jwk["crv"]?.stringValue == expected.crv, let x = jwk["x"]?.stringValue else {
                    throw SignInError.invalidToken("the key it names is not an Ed25519 key")
                }
                await collection.add(eddsa: try EdDSA.PublicKey(x: x, curve: .ed25519))
            }
        } catch let error as SignInError {
            throw error
        } catch {
            throw .invalidToken("the key it names cannot be used")
        }
        return collection
    }
}

/// The payload as jwt-kit sees it: nothing is read or checked there (the claims are checked by
/// ``IDTokenValidator/check(_:expecting:)`` with the sign-in's own clock).
private struct SignedPayload: JWTPayload {
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
