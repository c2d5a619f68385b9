import CharterCore
import CharterServices
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
        AuditRecord.Actor(principal: principal, requestID: requestID, clientIP: clientIP)
    }

    /// The caller as the services layer sees it.
    var caller: Caller {
        Caller(principal: principal, actor: actor, logger: logger)
    }

    /// The current scope; a handler reached without authentication is a wiring bug, answered as 401.
    static func require() throws -> RequestScope {
        guard let current else { throw Problem(.unauthorized, "A valid API key is required.") }
        return current
    }
}

/// A handler's caller, allowed what it asked for on one tenant: the one authorisation preamble of tenant routes.
struct TenantCall: Sendable {
    var scope: RequestScope
    var tenant: TenantID
    var msp: MSPID
    var caller: Caller { scope.caller }
    var logger: Logger { scope.logger }

    /// Parses the tenant path parameter and checks `permission` on it (out of scope → 404, weak role → 403).
    static func authorize(_ permission: Permission, tenant raw: String) throws -> TenantCall {
        let scope = try RequestScope.require()
        let tenant = try Input.tenantID(raw)
        let msp = scope.principal.mspID
        try scope.principal.authorize(permission, tenant: tenant, of: msp)
        return TenantCall(scope: scope, tenant: tenant, msp: msp)
    }
}

/// A handler's caller, allowed what it asked for on one MSP: the one authorisation preamble of MSP routes.
struct MSPCall: Sendable {
    var scope: RequestScope
    var msp: MSPID
    var caller: Caller { scope.caller }
    var logger: Logger { scope.logger }

    /// Parses the MSP path parameter and checks `permission` on it; a tenant-scoped key passes only where
    /// `allowTenantScope` says so.
    static func authorize(_ permission: Permission, msp raw: String, allowTenantScope: Bool = false) throws -> MSPCall {
        let scope = try RequestScope.require()
        let msp = try Input.mspID(raw)
        try scope.principal.authorizeMSP(permission, msp: msp, allowTenantScope: allowTenantScope)
        return MSPCall(scope: scope, msp: msp)
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
            throw Problem(
                .unauthorized,
                "A valid API key, personal token or session is required: send 'Authorization: Bearer <key>'."
            )
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
