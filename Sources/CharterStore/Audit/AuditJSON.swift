package import CharterJSON
import Foundation

/// The before/after snapshots the audit log keeps (and webhook payloads): Swift values written as canonical
/// JSON by CharterJSON's one writer (members sorted by UTF-8 bytes, no whitespace), the form Charter stores,
/// hashes and signs everywhere else.
///
/// Until issue 15 these were written by `JSONSerialization` with sorted keys. The hash chain covers the stored
/// text and verification hashes that text as read back, never a re-serialisation, so events written then verify
/// as they always did (docs/architecture.md, "One JSON writer").
package enum AuditJSON {
    /// The canonical JSON text of a snapshot.
    ///
    /// Values may be `String`, `Bool`, any fixed-width integer, `Double`, `JSONValue`, and arrays and
    /// `[String: …]` dictionaries of these; anything else is written as its description, a string. (Snapshots
    /// leave an absent member out rather than writing `null`.)
    package static func encode(_ object: [String: any Sendable]) -> String {
        String(decoding: JSONValue.object(object.mapValues(value)).canonicalData, as: UTF8.self)
    }

    /// The JSON value of one snapshot member.
    package static func value(_ member: Any) -> JSONValue {
        switch member {
        case let value as JSONValue: value
        case let value as String: .string(value)
        case let value as Bool: .bool(value)
        case let value as any BinaryInteger: Int64(exactly: value).map(JSONValue.integer) ?? .number(Double(value))
        case let value as Double: .number(value)
        case let value as [String: Any]: .object(value.mapValues(Self.value))
        case let value as [Any]: .array(value.map(Self.value))
        default: .string(String(describing: member))
        }
    }
}
