import Foundation
import HTTPTypes
import OpenAPIRuntime

/// What the generated server cannot see of a request's wire form: an empty body, and the raw `If-Match`.
///
/// - An operation whose request body is optional (`POST .../sync`) must accept a request without one; HTTP
///   servers pass such a request on with an empty body, which the generated code would try to decode as the
///   one content type the operation declares, and refuse as malformed JSON. An empty body is handed on as none.
/// - The generated code reads a header as a comma-separated list and keeps its first element, so the
///   document's bound on `If-Match` (100 characters) is checked here, on the whole field.
/// - The generated code refuses a query value that is not an integer without naming the parameter, so the
///   document's integer query parameters (``integerQueryParameters``) are checked here, by name; so are the
///   enumerations, booleans and date-times of the inventory and report operations (``typedQueryParameters``).
struct WireRulesMiddleware: ServerMiddleware {
    /// Every query parameter `openapi.yaml` types as an integer (a test holds the two to each other).
    static let integerQueryParameters: Set<String> = ["limit", "position", "min_approvals", "stale_after"]

    /// What a typed query parameter's value must be.
    enum QueryValue: Equatable, Sendable {
        case oneOf(Set<String>)
        case boolean
        case dateTime
    }

    /// Query parameters of these operations (by operation id) whose values the generated code would refuse
    /// without naming them: a hostile filter value is answered 400 with its parameter in `field`.
    static let typedQueryParameters: [String: [String: QueryValue]] = {
        let report: [String: QueryValue] = [
            "from": .dateTime, "to": .dateTime, "group": .oneOf(["application", "user", "candidates"]),
            "format": .oneOf(["json", "csv"]),
        ]
        return [
            "listDevices": [
                "hostname_match": .oneOf(["contains", "prefix"]),
                "status": .oneOf(["active", "pending_approval", "revoked"]), "behind": .boolean,
                "last_seen_after": .dateTime, "last_seen_before": .dateTime,
            ],
            "getTenantElevationReport": report,
            "getMSPElevationReport": report,
        ]
    }()

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next:
            @concurrent @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws
            -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        if let ifMatch = request.headerFields[.ifMatch], ifMatch.unicodeScalars.count > ETag.maximumIfMatchLength {
            throw Problem(
                .malformedRequest, "If-Match may have at most \(ETag.maximumIfMatchLength) characters.", field: "If-Match"
            )
        }
        if let name = Self.nonIntegerQueryParameter(request.path) {
            throw Problem(.malformedRequest, "\(name) must be an integer.", field: name)
        }
        if let invalid = Self.invalidTypedQueryParameter(request.path, operationID: operationID) {
            let (name, rule) = invalid
            let expected =
                switch rule {
                case .oneOf(let values): "one of " + values.sorted().joined(separator: ", ")
                case .boolean: "true or false"
                case .dateTime: "an RFC 3339 date-time such as 2026-12-06T19:39:04Z"
                }
            throw Problem(.malformedRequest, "\(name) must be \(expected).", field: name)
        }
        return try await next(request, Self.isEmpty(request, body) ? nil : body, metadata)
    }

    /// The first integer query parameter of `path` whose value is not a decimal integer that fits 64 bits.
    static func nonIntegerQueryParameter(_ path: String?) -> String? {
        guard let path, let query = path.firstIndex(of: "?") else { return nil }
        let items = URLComponents(string: "/" + path[query...])?.queryItems ?? []
        return items.first { item in
            integerQueryParameters.contains(item.name) && item.value.flatMap { Int64($0) } == nil
        }?.name
    }

    /// The first query parameter of `path` that ``typedQueryParameters`` lists for the operation and whose value
    /// breaks its rule.
    static func invalidTypedQueryParameter(_ path: String?, operationID: String) -> (String, QueryValue)? {
        guard let rules = typedQueryParameters[operationID], let path, let query = path.firstIndex(of: "?") else {
            return nil
        }
        let items = URLComponents(string: "/" + path[query...])?.queryItems ?? []
        for item in items {
            guard let rule = rules[item.name] else { continue }
            let value = item.value ?? ""
            let isValid =
                switch rule {
                case .oneOf(let values): values.contains(value)
                case .boolean: value == "true" || value == "false"
                case .dateTime: (try? RFC3339DateTranscoder().decode(value)) != nil
                }
            if !isValid { return (item.name, rule) }
        }
        return nil
    }

    /// Whether the body is empty: a length of zero, or neither `Content-Length` nor `Transfer-Encoding` (an
    /// HTTP/1.1 request without either has no body, RFC 9112 §6.3).
    static func isEmpty(_ request: HTTPRequest, _ body: HTTPBody?) -> Bool {
        guard let body else { return true }
        if case .known(0) = body.length { return true }
        return request.headerFields[.contentLength] == nil && request.headerFields[.transferEncoding] == nil
    }
}
