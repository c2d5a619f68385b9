internal import CharterBundle
public import Foundation

/// An RFC 9457 problem document, as the service answers every error.
///
/// Decoding is lenient: members other than the ones below are ignored, and a member of the wrong
/// type reads as absent, so that a problem is never lost to a decoding failure.
public struct Problem: Sendable, Hashable {
    /// The problem type URI (`about:blank` when absent).
    public var type: String
    /// A short summary of the problem type.
    public var title: String?
    /// The HTTP status the service gave in the document.
    public var status: Int?
    /// An explanation of this occurrence.
    public var detail: String?
    /// The JSON pointer, parameter or header at fault, when one input is.
    public var field: String?
    /// Charter's stable machine-readable code, when present.
    public var code: String?

    /// Creates a problem.
    ///
    /// - Parameters:
    ///   - type: The type URI.
    ///   - title: The summary.
    ///   - status: The status.
    ///   - detail: The explanation.
    ///   - field: The input at fault.
    ///   - code: The stable code.
    public init(
        type: String = "about:blank",
        title: String? = nil,
        status: Int? = nil,
        detail: String? = nil,
        field: String? = nil,
        code: String? = nil
    ) {
        self.type = type
        self.title = title
        self.status = status
        self.detail = detail
        self.field = field
        self.code = code
    }

    /// Decodes a problem document.
    ///
    /// - Parameter data: The response body.
    /// - Returns: The problem, or `nil` when the body is not a JSON object.
    public static func decode(from data: Data) -> Problem? {
        guard let members = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue else {
            return nil
        }
        return Problem(
            type: members["type"]?.stringValue ?? "about:blank",
            title: members["title"]?.stringValue,
            status: members["status"]?.integerValue.flatMap { Int(exactly: $0) },
            detail: members["detail"]?.stringValue,
            field: members["field"]?.stringValue,
            code: members["code"]?.stringValue
        )
    }
}
