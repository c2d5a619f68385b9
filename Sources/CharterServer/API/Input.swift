import CharterBundle
import CharterCore
import Foundation

/// Conversions of raw operation input into domain values, each failing with a problem that names the field.
enum Input {
    static func mspID(_ raw: String) throws -> MSPID {
        guard let id = MSPID(raw) else { throw malformedID("msp") }
        return id
    }

    static func tenantID(_ raw: String) throws -> TenantID {
        guard let id = TenantID(raw) else { throw malformedID("tenant") }
        return id
    }

    static func apiKeyID(_ raw: String) throws -> APIKeyID {
        guard let id = APIKeyID(raw) else { throw malformedID("key") }
        return id
    }

    private static func malformedID(_ name: String) -> Problem {
        Problem(.malformedRequest, "The \(name) id must be a UUID such as 0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80.", field: name)
    }

    /// The page size: 1–200, default 50.
    static func limit(_ raw: Int?) throws -> Int {
        let limit = raw ?? 50
        guard (1...200).contains(limit) else {
            throw Problem(.malformedRequest, "limit must be between 1 and 200.", field: "limit")
        }
        return limit
    }

    /// A display name: trimmed, 1–200 characters, no control characters.
    static func name(_ raw: String, field: String = "/name") throws -> String {
        guard let name = DisplayName.validated(raw) else {
            throw Problem(
                .validationFailed,
                "A name must have 1 to \(DisplayName.maximumLength) characters and no control characters.",
                field: field
            )
        }
        return name
    }
}

extension Input {
    /// A free-text query parameter, at most `maxLength` characters (Unicode code points, as the document's
    /// `maxLength` counts them).
    static func text(_ raw: String?, field: String, maxLength: Int) throws -> String? {
        guard let raw else { return nil }
        guard raw.unicodeScalars.count <= maxLength else {
            throw Problem(.malformedRequest, "\(field) may have at most \(maxLength) characters.", field: field)
        }
        return raw
    }

    /// Search text from a query parameter: 1 to `maxLength` characters.
    static func searchText(_ raw: String?, field: String, maxLength: Int) throws -> String? {
        guard let text = try text(raw, field: field, maxLength: maxLength) else { return nil }
        guard !text.isEmpty else {
            throw Problem(.malformedRequest, "\(field) may not be empty; leave it out to match everything.", field: field)
        }
        return text
    }
}

/// Pagination cursors: the last item's key in plain text (an id, a sequence number, or `<microseconds>_<id>`).
///
/// Clients treat them as opaque, but the document gives their form, and every cursor of that form names a
/// position (the page after it), so a well-formed cursor is never refused; a malformed one is a 400.
enum Cursor {
    static func decodeID<Tag>(_ cursor: String?, as type: Identifier<Tag>.Type) throws -> Identifier<Tag>? {
        guard let cursor else { return nil }
        guard let id = Identifier<Tag>(cursor) else { throw malformed }
        return id
    }

    static func decodeSequence(_ cursor: String?) throws -> Int64? {
        guard let cursor else { return nil }
        guard cursor.utf8.count <= 18, cursor.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let sequence = Int64(cursor)
        else { throw malformed }
        return sequence
    }

    static var malformed: Problem {
        Problem(.malformedRequest, "cursor is not a next_cursor this service returned.", field: "cursor")
    }
}

extension Input {
    /// A resource id from the path.
    static func id<Tag>(_ raw: String, field: String = "id") throws -> Identifier<Tag> {
        guard let id = Identifier<Tag>(raw) else {
            throw Problem(.malformedRequest, "The \(field) must be a UUID such as 0b7f7a5e-3c1d-4e0a-9f11-2a4c5d6e7f80.", field: field)
        }
        return id
    }
}

/// Lower-case hexadecimal text of bytes (hashes, MACs).
enum Hex {
    static func string(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
