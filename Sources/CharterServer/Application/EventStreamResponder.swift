import Hummingbird

/// Answers requests for the paths that hold their connection open (event streams) from a child task.
///
/// A connection's task keeps the slabs its deepest chain of async frames took until the connection closes
/// (docs/benchmarks.md, "Where a stream's memory goes"): the middleware, the router, authentication and the
/// subscription's database calls. Run there, they stay with every open stream; run in a child task, they are
/// freed when the response is made, and the stream's connection task holds only the server's frames and the
/// loop writing the body. Other requests are answered in place: a child task costs a hop they do not need.
struct EventStreamResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context: Sendable {
    let inner: Inner
    /// The request paths answered from a child task.
    let streamPaths: Set<String>

    func respond(to request: Request, context: Inner.Context) async throws -> Response {
        guard streamPaths.contains(request.uri.path) else {
            return try await inner.respond(to: request, context: context)
        }
        return try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask { try await inner.respond(to: request, context: context) }
            guard let response = try await group.next() else { throw CancellationError() }
            return response
        }
    }
}
