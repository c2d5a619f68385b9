package import Foundation

/// The `objectGUID` of an Active Directory object: the identity that survives renames and moves.
///
/// Its string form is the standard UUID form in lowercase. The byte order of the first three fields is
/// the directory layer's concern; by the time a GUID reaches this type it is already a `UUID`.
package struct ObjectGUID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    package let rawValue: UUID

    package init(_ rawValue: UUID) {
        self.rawValue = rawValue
    }

    /// Parses the standard 36-character UUID form (any case); `nil` for anything else.
    package init?(_ string: String) {
        guard let uuid = UUID(uuidString: string) else { return nil }
        self.rawValue = uuid
    }

    package var description: String { rawValue.uuidString.lowercased() }

    /// Orders by the UUID's bytes, so sorted GUIDs give deterministic traversals and tie-breaks.
    package static func < (lhs: ObjectGUID, rhs: ObjectGUID) -> Bool {
        withUnsafeBytes(of: lhs.rawValue.uuid) { left in
            withUnsafeBytes(of: rhs.rawValue.uuid) { right in left.lexicographicallyPrecedes(right) }
        }
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let string = try container.decode(String.self)
        guard let guid = ObjectGUID(string) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a GUID: \(string)")
        }
        self = guid
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
