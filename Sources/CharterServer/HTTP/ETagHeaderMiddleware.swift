import Foundation
import HTTPTypes
import Hummingbird

/// Restores the `ETag` and `Location` response headers that the generated server wrote percent-encoded.
///
/// swift-openapi-runtime serialises header parameters in the `simple` style, which percent-encodes the
/// double quotes every entity tag has (`"v3"` → `%22v3%22`) and the slashes of a path; RFC 9110 wants them
/// verbatim.
struct ETagHeaderMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: @concurrent (Request, Context) async throws -> Response
    ) async throws -> Response {
        var response = try await next(request, context)
        for name in [HTTPField.Name.eTag, .location] {
            if let value = response.headers[name], value.contains("%"), let decoded = value.removingPercentEncoding {
                response.headers[name] = decoded
            }
        }
        return response
    }
}
