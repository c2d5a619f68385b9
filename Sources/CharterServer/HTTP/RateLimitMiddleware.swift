import CharterCore
import Hummingbird

/// Refuses a request over its principal's or tenant's rate with 429, after the API key was checked and before the
/// body is read or a transaction opens.
///
/// A tenant-scoped key counts against its principal and its tenant; an MSP-scoped key (MSP staff) against its
/// principal only, since the tenant it acts on is known only to the operation.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let limiter: RateLimiter

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: @concurrent (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        if let principal = context.identity {
            do throws(RateLimiter.Limited) {
                if let tenant = principal.soleTenant {
                    try limiter.admit(.principal(principal.id), .tenant(tenant))
                } else {
                    try limiter.admit(.principal(principal.id))
                }
            } catch {
                throw Problem(limited: error)
            }
        }
        return try await next(request, context)
    }
}

extension Problem {
    /// The 429 for a request a rate limit refused.
    init(limited: RateLimiter.Limited) {
        let what =
            switch limited.scope {
            case .tenant: "this tenant (rate_limit.tenant_per_second)"
            case .credential: "this credential (rate_limit.credential_per_second)"
            case .enrollment: "this enrollment token (rate_limit.enrollment_per_second)"
            }
        self.init(
            .tooManyRequests, "Too many requests for \(what); retry after \(limited.retryAfterSeconds) s.",
            retryAfterSeconds: limited.retryAfterSeconds
        )
    }
}
