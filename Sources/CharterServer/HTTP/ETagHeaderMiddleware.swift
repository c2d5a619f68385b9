import Foundation
import Hummingbird

/// Restores the `ETag` response header that the generated server wrote percent-encoded.
///
/// swift-openapi-runtime serialises header parameters in the `simple` style, which percent-encodes the
/// double quotes every entity tag has (`"v3"` → `%22v3%22`); RFC 9110 wants them verbatim.
struct ETagHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        if let etag = response.headers[.eTag], etag.contains("%"), let decoded = etag.removingPercentEncoding {
            response.headers[.eTag] = decoded
        }
        return response
    }
}
