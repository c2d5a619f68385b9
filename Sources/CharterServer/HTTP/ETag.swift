import CharterStore
import Foundation

/// Strong entity tags over a resource's version counter: `"v7"`.
enum ETag {
    static func value(_ version: Int64) -> String { "\"v\(version)\"" }

    /// The longest `If-Match` the document allows.
    static let maximumIfMatchLength = 100

    /// A version no resource has: what an `If-Match` names that is not one of this service's tags.
    static let unmatchableVersion: Int64 = -1

    /// The version an `If-Match` names; `nil` when absent or `*`.
    ///
    /// A value that is not one of this service's tags matches no version, so the write fails with 412 where a
    /// stale tag would (RFC 9110 §13.1.1), after the body was validated; the bound on its length is checked by
    /// ``WireRulesMiddleware``.
    static func expectedVersion(_ header: String?) -> Int64? {
        guard let header = header?.trimmingCharacters(in: .whitespaces), header != "*" else { return nil }
        guard header.hasPrefix("\"v"), header.hasSuffix("\""), header.count > 3,
            let version = Int64(header.dropFirst(2).dropLast()), version >= 0
        else { return unmatchableVersion }
        return version
    }
}
