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

/// Opaque pagination cursors: base64url of the last item's key, so clients cannot depend on their form.
enum Cursor {
    static func encode(_ value: String) -> String {
        Base64URL.encode(Data(value.utf8))
    }

    static func decode(_ cursor: String?) throws -> String? {
        guard let cursor else { return nil }
        guard let data = Base64URL.decode(cursor), let value = String(data: data, encoding: .utf8) else {
            throw Problem(.malformedRequest, "cursor is not a next_cursor this service returned.", field: "cursor")
        }
        return value
    }

    static func decodeID<Tag>(_ cursor: String?, as type: Identifier<Tag>.Type) throws -> Identifier<Tag>? {
        guard let value = try decode(cursor) else { return nil }
        guard let id = Identifier<Tag>(value) else {
            throw Problem(.malformedRequest, "cursor is not a next_cursor this service returned.", field: "cursor")
        }
        return id
    }

    static func decodeSequence(_ cursor: String?) throws -> Int64? {
        guard let value = try decode(cursor) else { return nil }
        guard let sequence = Int64(value) else {
            throw Problem(.malformedRequest, "cursor is not a next_cursor this service returned.", field: "cursor")
        }
        return sequence
    }
}

/// Canonical JSON (sorted keys) of the before/after snapshots kept in the audit log.
enum AuditJSON {
    static func encode(_ object: [String: any Sendable]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
        return data.flatMap { String(data: $0, encoding: .utf8) } ?? "{}"
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
