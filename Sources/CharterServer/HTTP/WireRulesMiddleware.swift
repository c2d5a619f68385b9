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
///   document's integer query parameters (``integerQueryParameters``) are checked here, by name.
struct WireRulesMiddleware: ServerMiddleware {
    /// Every query parameter `openapi.yaml` types as an integer (a test holds the two to each other).
    static let integerQueryParameters: Set<String> = ["limit", "position", "stale_after"]

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

    /// Whether the body is empty: a length of zero, or neither `Content-Length` nor `Transfer-Encoding` (an
    /// HTTP/1.1 request without either has no body, RFC 9112 §6.3).
    static func isEmpty(_ request: HTTPRequest, _ body: HTTPBody?) -> Bool {
        guard let body else { return true }
        if case .known(0) = body.length { return true }
        return request.headerFields[.contentLength] == nil && request.headerFields[.transferEncoding] == nil
    }
}
