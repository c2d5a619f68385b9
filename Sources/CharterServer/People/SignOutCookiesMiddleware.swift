import HTTPTypes
import Hummingbird

/// Clears the browser's session cookies once `POST /v1/auth/sign-out` has ended the session.
///
/// The sign-out operation is generated from openapi.yaml, whose responses carry one value per header; a
/// browser needs two `Set-Cookie` fields (session and CSRF), so they are added here, around the handler.
struct SignOutCookiesMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    /// Whether cookies carry `Secure` (`http.public_url` is https), as when they were set.
    let secureCookies: Bool

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: @concurrent (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        guard request.method == .post, request.uri.path == "/v1/auth/sign-out", response.status == .noContent else {
            return response
        }
        for (name, httpOnly, sameSite) in [
            (SignInRoutes.sessionCookie, true, Cookie.SameSite.lax), (SignInRoutes.csrfCookie, false, .strict),
        ] {
            response.setCookie(
                Cookie(
                    name: name, value: "", maxAge: 0, path: "/", secure: secureCookies, httpOnly: httpOnly,
                    sameSite: sameSite
                )
            )
        }
        return response
    }
}
