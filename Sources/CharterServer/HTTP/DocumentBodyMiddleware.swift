import Foundation
import HTTPTypes
import OpenAPIRuntime

/// The exact bytes of a policy document body, for Core's strict parser.
///
/// The generated server decodes a free-form `type: object` body with `JSONDecoder`, which silently keeps one
/// of two repeated members and forgets how numbers were written; settings and subsetting documents must be
/// validated from what the client sent (a repeated member is an error with its pointer). The operations that
/// take such a document read it here instead of from their typed input.
enum DocumentBody {
    @TaskLocal static var current: Data?

    /// The body of the current request.
    ///
    /// - Throws: ``Problem`` (400) when there is none.
    static func require() throws -> Data {
        guard let current else { throw Problem(.malformedRequest, "The request needs a JSON body.") }
        return current
    }
}

/// Binds ``DocumentBody/current`` around the operations that take a policy document.
///
/// ``BodyLimitMiddleware`` has already bounded the body, so collecting it here cannot exhaust memory.
struct DocumentBodyMiddleware: ServerMiddleware {
    static let operations: Set<String> = [
        Operations.ReplaceSettings.id,
        Operations.CreateSubsetting.id,
        Operations.ReplaceSubsetting.id,
        Operations.UpdateSubsetting.id,
    ]

    let maximumBytes: Int

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next:
            @concurrent @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws
            -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        guard Self.operations.contains(operationID), let body else {
            return try await next(request, body, metadata)
        }
        let bytes = try await Data(collecting: body, upTo: maximumBytes)
        return try await DocumentBody.$current.withValue(bytes) {
            try await next(request, HTTPBody(bytes), metadata)
        }
    }
}
