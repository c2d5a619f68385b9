import CharterCore
import CharterServices
import Foundation
import Hummingbird

/// The browser's side of signing in with the MSP's identity provider (docs/identity.md, "The shape"):
/// `GET /v1/auth/sign-in` redirects to the provider, `GET /v1/auth/callback` comes back from it.
///
/// Hand-written, like the agent routes: they answer redirects and set cookies, which the admin API's generated
/// handlers do not. Every failure is a problem document (``SignInError``) and leaves the browser's cookies as
/// they were.
struct SignInRoutes: Sendable {
    static let attemptCookie = "charter_sign_in"
    static let sessionCookie = "charter_session"
    static let csrfCookie = "charter_csrf"

    let service: SignInService
    /// Whether cookies carry `Secure` (`http.public_url` is https).
    let secureCookies: Bool

    func register(on router: some RouterMethods<AppRequestContext>) {
        let group = router.group("v1/auth")
        group.get("sign-in") { request, context in try await signIn(request, context: context) }
        group.get("callback") { request, context in try await callback(request, context: context) }
    }

    /// `GET /v1/auth/sign-in?msp=…&return_to=…`: records the attempt, sets `charter_sign_in` and answers `302`
    /// to the provider's authorization endpoint.
    func signIn(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let raw = query.get("msp") else {
            throw SignInError.malformed("The msp parameter (the MSP's id) is missing.", field: "msp")
        }
        guard let uuid = UUID(uuidString: raw) else {
            throw SignInError.malformed("The msp parameter must be the MSP's id (a UUID).", field: "msp")
        }
        let started = try await service.start(
            msp: MSPID(uuid), returnTo: query.get("return_to"), logger: context.logger
        )
        var response = Response(status: .found, headers: [.location: started.authorizationURL, .cacheControl: "no-store"])
        response.setCookie(
            Cookie(
                name: Self.attemptCookie, value: started.browserSecret, maxAge: Int(SignInService.attemptLifetime),
                path: "/v1/auth", secure: secureCookies, httpOnly: true, sameSite: .lax
            )
        )
        return response
    }

    /// `GET /v1/auth/callback?code=…&state=…`: completes the sign-in, sets the session cookies and answers `303`
    /// to the attempt's `return_to`.
    func callback(_ request: Request, context: AppRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let completed = try await service.complete(
            code: query.get("code"), state: query.get("state"), error: query.get("error"),
            browserSecret: request.cookies[Self.attemptCookie]?.value,
            client: ClientInfo(
                userAgent: request.headers[.userAgent].map { String($0.prefix(500)) },
                ip: context.remoteAddress?.ipAddress
            ),
            logger: context.logger
        )
        var response = Response(status: .seeOther, headers: [.location: completed.returnTo, .cacheControl: "no-store"])
        let session = completed.session
        response.setCookie(
            Cookie(
                name: Self.sessionCookie, value: session.credential, expires: session.expiresAt, path: "/",
                secure: secureCookies, httpOnly: true, sameSite: .lax
            )
        )
        // Readable by the portal's script, which repeats it in X-CSRF-Token.
        response.setCookie(
            Cookie(
                name: Self.csrfCookie, value: session.csrfToken, expires: session.expiresAt, path: "/",
                secure: secureCookies, httpOnly: false, sameSite: .strict
            )
        )
        response.setCookie(
            Cookie(
                name: Self.attemptCookie, value: "", maxAge: 0, path: "/v1/auth", secure: secureCookies,
                httpOnly: true, sameSite: .lax
            )
        )
        return response
    }
}
