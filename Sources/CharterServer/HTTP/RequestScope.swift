import CharterCore
import Hummingbird
import Logging

/// What an OpenAPI handler knows of the request it serves: who calls, and how to log and audit it.
///
/// The generated server hands operations only their typed input, so ``RequestScopeMiddleware`` binds this
/// task-local around the handler.
struct RequestScope: Sendable {
    @TaskLocal static var current: RequestScope?

    var principal: Principal
    var requestID: String?
    var clientIP: String?
    var logger: Logger

    /// The audit actor for this request.
    var actor: AuditRecord.Actor {
        AuditRecord.Actor(id: principal.id.rawValue, name: principal.name, requestID: requestID, clientIP: clientIP)
    }

    /// The current scope; a handler reached without authentication is a wiring bug, answered as 401.
    static func require() throws -> RequestScope {
        guard let current else { throw Problem(.unauthorized, "A valid API key is required.") }
        return current
    }
}

/// Binds ``RequestScope/current`` for the rest of the chain; requires an authenticated principal.
struct RequestScopeMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: @concurrent (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let principal = context.identity else {
            throw Problem(.unauthorized, "A valid API key is required: send 'Authorization: Bearer <key>'.")
        }
        let clientIP = context.remoteAddress?.ipAddress
        var logger = context.logger
        logger[metadataKey: "principal.id"] = "\(principal.id)"
        let scope = RequestScope(principal: principal, requestID: context.requestID, clientIP: clientIP, logger: logger)
        return try await RequestScope.$current.withValue(scope) {
            try await next(request, context)
        }
    }
}
