import Hummingbird

/// Refuses request bodies above a size with 413 before any handler decodes them.
///
/// With `collectsBody` it reads the body (up to the limit) so a larger one without a declared length is refused
/// too; without, it only checks the declared `Content-Length` and reads nothing, which is what runs before
/// authentication (the body of an unauthenticated request is never read; see ``ProblemMiddleware``).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int
    var collectsBody = true

    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maximumBytes {
            throw Problem(.payloadTooLarge, "The body may have at most \(maximumBytes) bytes.")
        }
        guard collectsBody else { return try await next(request, context) }
        var request = request
        do {
            _ = try await request.collectBody(upTo: maximumBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem(.payloadTooLarge, "The body may have at most \(maximumBytes) bytes.")
        }
        return try await next(request, context)
    }
}
