import CharterCore
import CharterServices
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import OpenAPIRuntime

/// Renders every error that leaves the router as an RFC 9457 problem document.
///
/// Errors a client caused map to 4xx with a clear detail; anything unexpected becomes a 500 whose detail is
/// only the request id, while the real error goes to the log.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// `Retry-After` of a 503 that names no other.
    static var retryAfterSeconds: Int { 5 }

    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let requestID = context.logger[metadataKey: "hb.request.id"].map { "\($0)" }
            let problem = Self.problem(for: error)
            // A generated handler's ServerError describes the whole request, headers included (the session
            // cookie, the CSRF token, the Authorization header): only the error inside it is logged.
            let logged = (error as? ServerError)?.underlyingError ?? error
            if problem.kind == .internalError {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: logged))"])
            } else if problem.kind == .serviceUnavailable, !(error is Problem) {
                context.logger.warning("database unavailable", metadata: ["error": "\(logged)"])
            }
            var headers: HTTPFields = [.contentType: "application/problem+json"]
            if problem.kind == .serviceUnavailable || problem.kind == .tooManyRequests {
                headers[.retryAfter] = String(problem.retryAfterSeconds ?? Self.retryAfterSeconds)
            }
            if Self.refusesBody(problem), Self.hasBody(request) {
                // The body was refused unread: closing spares reading (and draining) it to keep the connection.
                headers[.connection] = "close"
            }
            if problem.kind == .unauthorized {
                headers[.wwwAuthenticate] = "Bearer realm=\"\(Self.realm(of: request))\""
            } else if problem.kind == .tokenExpired {
                headers[.wwwAuthenticate] =
                    "Bearer realm=\"\(Self.realm(of: request))\", error=\"invalid_token\", error_description=\"expired\""
            }
            return Response(
                status: .init(code: problem.kind.status),
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: problem.encoded(requestID: requestID)))
            )
        }
    }

    /// The `WWW-Authenticate` realm of a request's path: agents', connectors' or the admin API's.
    static func realm(of request: Request) -> String {
        let path = request.uri.path
        if path.hasPrefix("/v1/agent/") { return "charter-agent" }
        if path.hasPrefix("/v1/connector/") { return "charter-connector" }
        return "charter"
    }

    /// Whether the problem is answered without reading the request's body (before authentication, or beyond a
    /// limit).
    static func refusesBody(_ problem: Problem) -> Bool {
        let unread: Set<Problem.Kind> = [.unauthorized, .payloadTooLarge, .tooManyRequests]
        return unread.contains(problem.kind)
    }

    /// Whether the request announces a body (a length above zero, or a chunked one).
    static func hasBody(_ request: Request) -> Bool {
        if let length = request.headers[.contentLength] { return length != "0" }
        return request.headers[.transferEncoding] != nil
    }

    /// Maps any error to the problem a client should see.
    static func problem(for error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let refused as any RefusalConvertible:
            return problem(for: refused.refusal)
        case let denial as AccessDenial:
            return problem(for: denial)
        case let store as StoreError:
            return problem(for: store)
        case let quota as QuotaExceeded:
            return problem(for: quota)
        case let decoding as DecodingError:
            return problem(for: decoding)
        case let server as ServerError:
            if server.operationInput == nil {
                // The request could not be turned into the operation's input: the client's fault.
                if let decoding = server.underlyingError as? DecodingError { return problem(for: decoding) }
                if let inner = server.underlyingError as? Problem { return inner }
                if let refused = server.underlyingError as? any RefusalConvertible { return problem(for: refused.refusal) }
                return Problem(.malformedRequest, server.causeDescription)
            }
            return problem(for: server.underlyingError)
        case let http as HTTPError:
            return problem(for: http)
        default:
            return Problem(.internalError, "An unexpected error occurred; the request id identifies it in the logs.")
        }
    }

    private static func problem(for refusal: Refusal) -> Problem {
        let issues = refusal.issues.map { Problem.Issue(pointer: $0.pointer, detail: $0.detail) }
        let (kind, retryAfter): (Problem.Kind, Int?) =
            switch refusal.reason {
            case .invalid: (.validationFailed, nil)
            case .malformed: (.malformedRequest, nil)
            case .notFound: (.notFound, nil)
            case .conflict: (.conflict, nil)
            case .quotaExceeded: (.quotaExceeded, nil)
            case .versionMismatch: (.preconditionFailed, nil)
            case .forbidden: (.forbidden, nil)
            case .unauthenticated: (.unauthorized, nil)
            case .credentialExpired: (.tokenExpired, nil)
            case .pendingApproval: (.pendingApproval, nil)
            case .busy(let seconds): (.tooManyRequests, seconds)
            case .unavailable(let seconds): (.serviceUnavailable, seconds ?? retryAfterSeconds)
            case .tooLarge: (.payloadTooLarge, nil)
            }
        let narrower = refusal.code.flatMap(Problem.Kind.init(rawValue:)).flatMap { $0.status == kind.status ? $0 : nil }
        return Problem(narrower ?? kind, refusal.detail, field: refusal.field, issues: issues, retryAfterSeconds: retryAfter)
    }

    private static func problem(for denial: AccessDenial) -> Problem {
        switch denial {
        case .outOfScope:
            Problem(.notFound, "No such resource for this API key.")
        case .insufficientRole(let required):
            Problem(.forbidden, "This action needs the role '\(required.rawValue)' or higher.")
        case .requiresMSPScope:
            Problem(.forbidden, "This action needs an API key scoped to the whole MSP.")
        case .cannotGrantBroader:
            Problem(.forbidden, "A key cannot create a key with a broader role or scope than its own.", field: "/role")
        }
    }

    private static func problem(for store: StoreError) -> Problem {
        switch store {
        case .notFound:
            Problem(.notFound, "No such resource for this API key.")
        // The constraint's name stays in the store: a client learns what conflicted from the detail a handler
        // gives, never a table, constraint or SQLSTATE.
        case .alreadyExists:
            Problem(.conflict, "A resource with the same unique value already exists.")
        case .constraintViolated:
            Problem(.conflict, "The change conflicts with existing data.")
        case .versionMismatch(let current):
            Problem(
                .preconditionFailed,
                "The resource changed since it was read; its current ETag is \(ETag.value(current)).",
                field: "If-Match"
            )
        case .invalidText:
            Problem(.malformedRequest, "Text may not contain U+0000 (NUL).")
        case .retryable, .unavailable:
            Problem(.serviceUnavailable, "The database is unavailable; retry shortly.")
        case .unexpected:
            Problem(.internalError, "An unexpected error occurred; the request id identifies it in the logs.")
        }
    }

    private static func problem(for quota: QuotaExceeded) -> Problem {
        let (what, key) =
            switch quota.quota {
            case .devices: ("enrolled devices", "quota.devices_per_tenant")
            case .directoryConnections: ("directory connections", "quota.directory_connections_per_tenant")
            case .webhooks: ("webhooks", "quota.webhooks_per_tenant")
            case .connectors: ("connectors", "quota.connectors_per_tenant")
            case .alertEmails: ("alert email recipients", "quota.webhooks_per_tenant")
            }
        return Problem(
            .quotaExceeded,
            "The \(quota.isMSP ? "MSP" : "tenant") already has \(quota.limit) \(what), its quota (\(key)); remove one "
                + "first or ask the operator "
                + "to raise the quota."
        )
    }

    private static func problem(for decoding: DecodingError) -> Problem {
        switch decoding {
        case .typeMismatch(let type, let context):
            Problem(.malformedRequest, "Expected \(describe(type)).", field: pointer(context.codingPath))
        case .valueNotFound(let type, let context):
            Problem(.malformedRequest, "Expected \(describe(type)), found null.", field: pointer(context.codingPath))
        case .keyNotFound(let key, let context):
            Problem(
                .malformedRequest,
                "The required field '\(key.stringValue)' is missing.",
                field: pointer(context.codingPath + [key])
            )
        case .dataCorrupted(let context):
            Problem(
                .malformedRequest,
                context.codingPath.isEmpty ? "The body is not valid JSON." : context.debugDescription,
                field: context.codingPath.isEmpty ? nil : pointer(context.codingPath)
            )
        @unknown default:
            Problem(.malformedRequest, "The body could not be decoded.")
        }
    }

    private static func problem(for http: HTTPError) -> Problem {
        switch http.status.code {
        case 404: Problem(.notFound, "No such route.")
        case 405: Problem(.methodNotAllowed, "This route does not support \(http.status.reasonPhrase).")
        case 413: Problem(.payloadTooLarge, "The request body is larger than the service accepts.")
        case 401: Problem(.unauthorized, http.body ?? "A valid API key is required.")
        case 400..<500: Problem(.malformedRequest, http.body ?? http.status.reasonPhrase)
        default: Problem(.internalError, "An unexpected error occurred; the request id identifies it in the logs.")
        }
    }

    /// RFC 6901 pointer of a coding path (`~` and `/` escaped).
    static func pointer(_ path: [any CodingKey]) -> String {
        path.map { key in
            let token = key.intValue.map(String.init) ?? key.stringValue
            return "/" + token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
        }.joined()
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "a boolean"
        case is Date.Type: "an RFC 3339 date-time"
        default: "a value of another type"
        }
    }
}
