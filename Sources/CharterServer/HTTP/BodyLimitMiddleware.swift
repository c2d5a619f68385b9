import Hummingbird

/// Refuses request bodies above a size with 413 before any handler decodes them.
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int

    func handle(_ request: Request, context: Context, next: @concurrent (Request, Context) async throws -> Response) async throws
        -> Response
    {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maximumBytes {
            throw Problem(.payloadTooLarge, "The body may have at most \(maximumBytes) bytes.")
        }
        var request = request
        do {
            _ = try await request.collectBody(upTo: maximumBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw Problem(.payloadTooLarge, "The body may have at most \(maximumBytes) bytes.")
        }
        return try await next(request, context)
    }
}
