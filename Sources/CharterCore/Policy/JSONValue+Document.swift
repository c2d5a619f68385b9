package import CharterJSON
package import Foundation

extension JSONValue {
    /// The deepest nesting of arrays and objects a settings or subsetting document may have.
    package static let maximumDocumentDepth = 64

    /// Parses a settings or subsetting document strictly (RFC 8259; a member name repeated within one
    /// object is an error), nested at most ``maximumDocumentDepth`` levels.
    ///
    /// - Throws: ``DocumentError`` with one issue: where the text stops being JSON (pointer of the value
    ///   being read, message `not valid JSON: …`), or the pointer of a repeated member (`duplicate field`).
    package static func parseDocument(_ data: Data) throws(DocumentError) -> JSONValue {
        do {
            return try JSONParser.parse(data, maximumDepth: maximumDocumentDepth)
        } catch {
            let message = error.reason == .duplicateMember ? "duplicate field" : "not valid JSON: \(error)"
            throw DocumentError(issues: [DocumentIssue(pointer: error.pointer, message: message)])
        }
    }
}
