import CharterCore
import CharterJSON
import CharterServices
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

/// Reads JSON request bodies once, checks what the generated decoder would let through, and binds
/// ``DocumentBody/current`` around the operations that take a policy document.
///
/// `JSONDecoder` reads an explicit `null` as an absent member and hands U+0000 on to PostgreSQL, which cannot
/// store it in text; the document promises neither. So every JSON body is refused (400, with the member's
/// pointer) when a member is `null` (leave it out instead; policy documents report that themselves, with
/// their other issues) or a string holds U+0000. ``BodyLimitMiddleware`` has already bounded the body, so
/// collecting it here cannot exhaust memory.
struct DocumentBodyMiddleware: ServerMiddleware {
    static let operations = Set([
        Operations.ReplaceSettings.id,
        Operations.CreateSubsetting.id,
        Operations.ReplaceSubsetting.id,
        Operations.UpdateSubsetting.id,
        Operations.CreateBaseline.id,
        Operations.ReplaceBaseline.id,
    ]).union(entryOperations)

    /// The operations whose body is one pre-approved entry, whichever document owns the list.
    static let entryOperations: Set<String> = [
        Operations.CreatePreApprovedApplication.id, Operations.ReplacePreApprovedApplication.id,
        Operations.CreateSubsettingPreApprovedApplication.id, Operations.ReplaceSubsettingPreApprovedApplication.id,
        Operations.CreateBaselinePreApprovedApplication.id, Operations.ReplaceBaselinePreApprovedApplication.id,
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
        let isDocument = Self.operations.contains(operationID)
        guard let body, isDocument || Self.isJSON(request) else {
            return try await next(request, body, metadata)
        }
        let bytes = try await Data(collecting: body, upTo: maximumBytes)
        if let value = try? JSONValue.parseDocument(bytes), let issue = Self.refusedMember(in: value, allowsNull: isDocument) {
            throw Problem(.malformedRequest, issue.message, field: issue.pointer.description)
        }
        guard isDocument else { return try await next(request, HTTPBody(bytes), metadata) }
        do {
            return try await DocumentBody.$current.withValue(bytes) {
                try await next(request, HTTPBody(bytes), metadata)
            }
        } catch let error as ServerError where error.underlyingError is DecodingError {
            // The typed body follows the document's schema; Core's strict decoder says what is wrong, all of it.
            if operationID == Operations.CreateBaseline.id || operationID == Operations.ReplaceBaseline.id {
                if let problem = BaselineDocuments.rejection(ofUndecodable: bytes) { throw problem }
                throw error
            }
            let rejection =
                Self.entryOperations.contains(operationID)
                ? PolicyDocuments.rejection(ofUndecodableEntry: bytes)
                : PolicyDocuments.rejection(
                    ofUndecodable: bytes,
                    patch: operationID == Operations.UpdateSubsetting.id,
                    settings: operationID == Operations.ReplaceSettings.id
                )
            if let problem = rejection {
                throw problem
            }
            throw error
        }
    }

    static func isJSON(_ request: HTTPRequest) -> Bool {
        guard let type = request.headerFields[.contentType]?.lowercased() else { return false }
        return type.hasPrefix("application/json") || type.hasPrefix("application/merge-patch+json")
    }

    /// The first member (in key order) that is `null` or a string holding U+0000, with what is wrong with it.
    static func refusedMember(
        in value: JSONValue, at pointer: JSONPointer = JSONPointer(), allowsNull: Bool
    ) -> DocumentIssue? {
        switch value {
        case .string(let text) where text.unicodeScalars.contains("\u{0}"):
            return DocumentIssue(pointer: pointer, message: "Text may not contain U+0000 (NUL).")
        case .null where !allowsNull && !pointer.tokens.isEmpty:
            return DocumentIssue(pointer: pointer, message: "A member may not be null; leave it out instead.")
        case .array(let elements):
            for (index, element) in elements.enumerated() {
                if let issue = refusedMember(in: element, at: pointer.appending(index), allowsNull: allowsNull) {
                    return issue
                }
            }
            return nil
        case .object(let members):
            for key in members.keys.sorted() {
                if key.unicodeScalars.contains("\u{0}") {
                    return DocumentIssue(pointer: pointer.appending(key), message: "A member name may not contain U+0000 (NUL).")
                }
                if let member = members[key],
                    let issue = refusedMember(in: member, at: pointer.appending(key), allowsNull: allowsNull)
                {
                    return issue
                }
            }
            return nil
        default:
            return nil
        }
    }
}
