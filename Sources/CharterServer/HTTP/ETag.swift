import CharterStore
import Foundation

/// Strong entity tags over a resource's version counter: `"v7"`.
enum ETag {
    static func value(_ version: Int64) -> String { "\"v\(version)\"" }

    /// The version an `If-Match` names; `nil` when absent or `*`.
    ///
    /// - Throws: ``Problem`` (412) when the header is not an entity tag this service issued.
    static func expectedVersion(_ header: String?) throws -> Int64? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), header != "*" else { return nil }
        guard header.hasPrefix("\"v"), header.hasSuffix("\""), header.count > 3,
            let version = Int64(header.dropFirst(2).dropLast())
        else {
            throw Problem(.preconditionFailed, "If-Match must be an ETag this service returned, e.g. \"v3\".", field: "If-Match")
        }
        return version
    }
}
