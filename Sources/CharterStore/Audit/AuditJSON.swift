package import Foundation

/// Canonical JSON (sorted keys) of the before/after snapshots kept in the audit log.
package enum AuditJSON {
    package static func encode(_ object: [String: any Sendable]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        return data.flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
    }
}
