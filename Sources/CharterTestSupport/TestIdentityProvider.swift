import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The OpenID Connect provider of the sign-in tests: glewlwyd on loopback, started by `scripts/oidc-provider`
/// (docs/identity.md, "The test provider").
///
/// The fixture plays two parts. As the provider's administrator (its admin API, with the API key of `DIR/env`)
/// it registers redirect URIs on the client, adds users and changes their groups. As a browser it follows
/// Charter's redirect to the provider, signs a user in through the provider's own endpoints and hands back
/// the URL the provider sends the browser to, without following it. It carries cookies by hand and never
/// follows a redirect by itself.
///
/// The users alice, bob and carol are shared by every test of the run: a test that changes a user's groups
/// should add a user of its own with ``addUser(_:email:groups:)`` first.
public struct TestIdentityProvider: Sendable {
    /// What went wrong talking to the provider.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The provider refused the user's name and password (its login API answered `status`).
        case signInRefused(user: String, status: UInt)
        /// The provider answered something this fixture does not expect.
        case unexpectedAnswer(String)

        public var description: String {
            switch self {
            case .signInRefused(let user, let status): "the provider refused \(user)'s password (HTTP \(status))"
            case .unexpectedAnswer(let what): "unexpected answer from the test provider: \(what)"
            }
        }
    }

    /// How to start the provider by hand.
    public static let hint =
        "start the provider with `scripts/oidc-provider start /tmp/charter-oidc && . /tmp/charter-oidc/env`"

    /// The provider scripts/test started, from `CHARTER_TEST_OIDC_*`; `nil` when they are not set.
    public static var configured: TestIdentityProvider? {
        TestIdentityProvider(variables: ProcessInfo.processInfo.environment)
    }

    /// The issuer (`{issuer}/.well-known/openid-configuration` is the discovery document).
    public var issuer: String
    public var clientID: String
    public var clientSecret: String
    /// The password of every user (alice, bob, carol and those ``addUser(_:email:groups:)`` adds).
    public var password: String
    /// The provider's API, ending in `/api`: its admin API and its login API (`/auth/`).
    public var apiURL: String
    /// Sent as `Authorization: token <key>` to the admin API.
    var adminAPIKey: String
    /// The folder given to `scripts/oidc-provider start`.
    public var folder: String

    /// The provider described by `CHARTER_TEST_OIDC_ISSUER`, `_CLIENT_ID`, … (those of `DIR/env`).
    public init?(variables: [String: String]) {
        func value(_ name: String) -> String? { variables["CHARTER_TEST_OIDC_\(name)"] }
        guard let issuer = value("ISSUER"), let clientID = value("CLIENT_ID"),
            let clientSecret = value("CLIENT_SECRET"),
            let password = value("PASSWORD"), let apiURL = value("ADMIN_URL"), let adminAPIKey = value("ADMIN_API_KEY"),
            let folder = value("DIR")
        else { return nil }
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.password = password
        self.apiURL = apiURL
        self.adminAPIKey = adminAPIKey
        self.folder = folder
    }

    // MARK: - As the administrator

    /// Registers `uri` as a redirect URI of the client (kept with those registered before; registering one
    /// twice changes nothing).
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` when the admin API refuses.
    public func allowRedirect(_ uri: String) async throws {
        try await withAdminLock {
            var client = try await adminObject("/client/\(escaped(clientID))")
            var uris = client["redirect_uri"] as? [String] ?? []
            guard !uris.contains(uri) else { return }
            uris.append(uri)
            client["redirect_uri"] = uris
            client["source"] = nil
            try await admin(.PUT, "/client/\(escaped(clientID))", client)
        }
    }

    /// Registers another confidential client `id` with `secret`, redirecting to `redirectURI`, unless it exists
    /// (an audience that is not Charter's, for tests that bring a code issued to another client).
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` when the admin API refuses.
    public func addClient(_ id: String, secret: String, redirectURI: String) async throws {
        try await withAdminLock {
            let existing = try await withClient { http in
                try await send(http, .GET, "\(apiURL)/client/\(escaped(id))", headers: ["Authorization": "token \(adminAPIKey)"])
            }
            guard existing.status == 404 else { return }
            let client: [String: any Sendable] = [
                "client_id": id, "name": id, "description": "another audience", "scope": [String](), "enabled": true,
                "confidential": true, "password": secret, "authorization_type": ["code"],
                "token_endpoint_auth_method": ["client_secret_basic", "client_secret_post"],
                "redirect_uri": [redirectURI],
            ]
            try await admin(.POST, "/client/", client)
        }
    }

    /// Sets the `groups` of `user`: the next ID token issued for them carries exactly these (none: no `groups`
    /// claim at all).
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` for an unknown user.
    public func setGroups(_ groups: [String], of user: String) async throws {
        try await withAdminLock {
            var answer = try await adminObject("/user/\(escaped(user))")
            answer["groups"] = groups
            answer["source"] = nil
            try await admin(.PUT, "/user/\(escaped(user))", answer)
        }
    }

    /// Adds a user with ``password``, `email` and `groups`, who has granted the client `openid email profile`
    /// already (no consent screen), as scripts/oidc-provider does for alice, bob and carol.
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` when the user exists already.
    public func addUser(_ username: String, email: String, groups: [String]) async throws {
        let user: [String: any Sendable] = [
            "username": username, "name": username, "email": email, "password": password, "enabled": true,
            "scope": ["openid", "email", "profile", "g_profile"], "groups": groups,
        ]
        try await admin(.POST, "/user/", user)
        try await withClient { http in
            let cookies = try await logIn(username, password: password, http: http)
            let grant = try await send(
                http, .PUT, "\(apiURL)/auth/grant/\(escaped(clientID))", json: ["scope": "openid email profile"],
                headers: ["Cookie": cookies])
            guard grant.status == 200 else {
                throw Failure.unexpectedAnswer("granting the client as \(username): HTTP \(grant.status)")
            }
        }
    }

    /// Revokes every refresh token the provider issued `user` (as the user does on the provider's own profile
    /// page: signed in as them, listing their tokens and disabling each): the next refresh with one is refused.
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` when the provider refuses.
    public func revokeRefreshTokens(of user: String) async throws {
        try await withClient { http in
            let cookies = try await logIn(user, password: password, http: http)
            let listed = try await send(http, .GET, "\(issuer)/token?limit=1000", headers: ["Cookie": cookies])
            guard listed.status == 200,
                let tokens = try? JSONSerialization.jsonObject(with: Data(buffer: listed.body)) as? [[String: Any]]
            else { throw Failure.unexpectedAnswer("listing \(user)'s refresh tokens: HTTP \(listed.status)") }
            let hashes = tokens.compactMap { $0["enabled"] as? Bool == true ? $0["token_hash"] as? String : nil }
            for hash in hashes {
                let disabled = try await send(
                    http, .DELETE, "\(issuer)/token/\(escaped(hash))", headers: ["Cookie": cookies])
                guard disabled.status == 200 else {
                    throw Failure.unexpectedAnswer("disabling a refresh token of \(user): HTTP \(disabled.status)")
                }
            }
        }
    }

    /// Disables `user` as an administrator cutting off a leaver does: their refresh tokens are revoked, then the
    /// account is disabled (glewlwyd 2.7 does not refuse a disabled user's refresh tokens by itself, as Entra ID,
    /// Okta and Keycloak do, so the fixture does both).
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` for an unknown user.
    public func disableUser(_ user: String) async throws {
        try await revokeRefreshTokens(of: user)
        try await withAdminLock {
            var answer = try await adminObject("/user/\(escaped(user))")
            answer["enabled"] = false
            answer["source"] = nil
            try await admin(.PUT, "/user/\(escaped(user))", answer)
        }
    }

    /// Makes the provider sign with a new RSA key from now on (`scripts/oidc-provider rotate`): the next ID
    /// token names a `kid` no JWKS fetched before has, while the JWKS keeps the earlier keys, so tokens signed
    /// before still check. For the JWKS refresh on an unknown `kid`.
    ///
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` when the script fails.
    public func rotateSigningKey() async throws {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/oidc-provider").path
        let ended = try await ChildProcess.run(script, ["rotate", folder])
        guard ended.status == 0 else {
            throw Failure.unexpectedAnswer("scripts/oidc-provider rotate: \(ended.errorOutput)")
        }
    }

    // MARK: - As the browser

    /// Plays the browser: follows `authorizationURL` (Charter's 302 target at the provider), signs in as `user`
    /// with `password` through the provider's own endpoints, and returns the URL the provider redirects back
    /// to (Charter's callback with `code` and `state`, or with `error`) without following it.
    ///
    /// glewlwyd answers an authorization request with its login page, whose `callback_url` is the request
    /// again; its page signs the user in with `POST /api/auth/` (a session cookie) and goes back to the
    /// request with `g_continue` added. This does the same without the page.
    ///
    /// - Throws: ``Failure/signInRefused(user:status:)`` for a wrong password (the provider sends the browser
    ///   nowhere: no code), ``Failure/unexpectedAnswer(_:)`` when the provider does not redirect.
    public func signIn(at authorizationURL: URL, as user: String, password: String) async throws -> URL {
        try await withClient { http in
            let first = try await send(http, .GET, authorizationURL.absoluteString)
            let location = try redirect(first, "the authorization request")
            // The provider sent the browser straight back (an error, such as an unknown redirect URI's).
            guard let login = URLComponents(url: location, resolvingAgainstBaseURL: false),
                let callback = login.queryItems?.first(where: { $0.name == "callback_url" })?.value
            else { return location }
            let cookies = try await logIn(user, password: password, http: http)
            let again = try await send(http, .GET, callback + "&g_continue", headers: ["Cookie": cookies])
            let back = try redirect(again, "the authorization request after signing in")
            guard !back.absoluteString.contains("callback_url=") else {
                throw Failure.unexpectedAnswer("the provider sent \(user) to its login page again: \(back)")
            }
            return back
        }
    }

    /// The same, but asking the token endpoint directly: exchanges `code` for the provider's token answer
    /// (used by tests that replay a code or look at an ID token).
    ///
    /// - Returns: the provider's JSON answer, whether tokens (`id_token`, `access_token`, …) or a refusal
    ///   (`error`, as for a code used twice).
    /// - Throws: ``Failure/unexpectedAnswer(_:)`` when the answer is not a JSON object.
    public func exchange(code: String, redirectURI: String, verifier: String) async throws -> [String: any Sendable] {
        let form = formEncoded([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
            ("code_verifier", verifier),
        ])
        // RFC 6749, 2.3.1: the id and secret are form-encoded before Basic.
        let basic = Data("\(formEncode(clientID)):\(formEncode(clientSecret))".utf8).base64EncodedString()
        let answer = try await withClient { http in
            try await send(
                http, .POST, "\(issuer)/token", body: ByteBuffer(string: form),
                headers: ["Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic \(basic)"])
        }
        guard
            let object = Self.sendable(try? JSONSerialization.jsonObject(with: Data(buffer: answer.body)))
                as? [String: any Sendable]
        else { throw Failure.unexpectedAnswer("the token endpoint answered HTTP \(answer.status) without JSON") }
        return object
    }

    // MARK: - HTTP

    private struct Answer {
        var status: UInt
        var headers: HTTPHeaders
        var body: ByteBuffer
    }

    private func withClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(15)))
        return try await HTTPClient.withHTTPClient(configuration: configuration) { try await body($0) }
    }

    private func send(
        _ http: HTTPClient, _ method: HTTPMethod, _ url: String, body: ByteBuffer? = nil,
        json: [String: any Sendable]? = nil, headers: [String: String] = [:]
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)))
        } else if let body {
            request.body = .bytes(body)
        }
        let response = try await http.execute(request, timeout: .seconds(15))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: response.status.code, headers: response.headers, body: bytes)
    }

    /// The `Location` of a 302, resolved against the provider.
    private func redirect(_ answer: Answer, _ what: String) throws -> URL {
        guard answer.status == 302, let location = answer.headers.first(name: "Location"),
            let url = URL(string: location, relativeTo: URL(string: issuer))?.absoluteURL
        else {
            throw Failure.unexpectedAnswer(
                "\(what): HTTP \(answer.status) \(String(buffer: answer.body).prefix(200))")
        }
        return url
    }

    /// Signs `user` in with the provider's login API; returns the `Cookie` header of their session.
    private func logIn(_ user: String, password: String, http: HTTPClient) async throws -> String {
        let answer = try await send(http, .POST, "\(apiURL)/auth/", json: ["username": user, "password": password])
        guard answer.status == 200 else { throw Failure.signInRefused(user: user, status: answer.status) }
        let cookies = answer.headers["Set-Cookie"].compactMap { $0.split(separator: ";").first.map(String.init) }
        guard !cookies.isEmpty else { throw Failure.unexpectedAnswer("no session cookie for \(user)") }
        return cookies.joined(separator: "; ")
    }

    @discardableResult
    private func admin(_ method: HTTPMethod, _ path: String, _ json: [String: any Sendable]? = nil) async throws
        -> Answer
    {
        let answer = try await withClient { http in
            try await send(http, method, apiURL + path, json: json, headers: ["Authorization": "token \(adminAPIKey)"])
        }
        guard answer.status == 200 else {
            throw Failure.unexpectedAnswer(
                "\(method) \(path): HTTP \(answer.status) \(String(buffer: answer.body).prefix(300))")
        }
        return answer
    }

    private func adminObject(_ path: String) async throws -> [String: any Sendable] {
        let answer = try await admin(.GET, path)
        guard
            let object = Self.sendable(try? JSONSerialization.jsonObject(with: Data(buffer: answer.body)))
                as? [String: any Sendable]
        else { throw Failure.unexpectedAnswer("GET \(path): not a JSON object") }
        return object
    }

    /// Runs `body` holding an exclusive lock on `DIR/admin.lock`, so that read-modify-writes of the admin API
    /// (the client's redirect URIs, a user's groups) from tests running at once do not undo each other.
    private func withAdminLock<T>(_ body: () async throws -> T) async throws -> T {
        let path = "\(folder)/admin.lock"
        let descriptor = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure.unexpectedAnswer("cannot open \(path) (errno \(errno))") }
        // Closing the descriptor releases the lock.
        defer { close(descriptor) }
        // flock blocks: on NIO's thread pool, not the concurrency pool.
        let locked = try await NIOThreadPool.singleton.runIfActive { flock(descriptor, LOCK_EX) == 0 }
        guard locked else { throw Failure.unexpectedAnswer("cannot lock \(path)") }
        return try await body()
    }

    // MARK: - Encoding

    private func escaped(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? segment
    }

    private func formEncode(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    private func formEncoded(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
    }

    /// A JSONSerialization value as Swift's own Sendable values (String, Int, Double, Bool, arrays, objects).
    private static func sendable(_ value: Any?) -> (any Sendable)? {
        switch value {
        case let string as String: return string
        case let object as [String: Any]: return object.compactMapValues { sendable($0) }
        case let array as [Any]: return array.compactMap { sendable($0) }
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return number.boolValue }
            let double = number.doubleValue
            return double.rounded() == double && abs(double) < 1e15 ? number.intValue : double
        default: return nil
        }
    }
}
