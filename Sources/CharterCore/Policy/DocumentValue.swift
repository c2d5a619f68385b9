package import Foundation

/// A parsed JSON value of a settings or subsetting document: the tree documents are validated from and
/// encoded to (named apart from CharterBundle's public `JSONValue`, so modules importing both need no
/// qualification).
///
/// Parsing keeps booleans and numbers apart, so a strict reader can report `true` where a number was
/// expected. ``canonicalData`` writes sorted keys without whitespace, so equal documents hash equally.
package enum DocumentValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([DocumentValue])
    case object([String: DocumentValue])

    /// Parses JSON text strictly (RFC 8259; a member name repeated within one object is an error).
    ///
    /// - Throws: ``DocumentError`` with one issue: where the text stops being JSON, or the pointer of a
    ///   repeated member.
    package static func parse(_ data: Data) throws(DocumentError) -> DocumentValue {
        var parser = JSONParser(Array(data))
        do {
            return try parser.parseDocument()
        } catch {
            throw DocumentError(issues: [DocumentIssue(pointer: error.pointer, message: error.message)])
        }
    }

    /// The JSON type name used in messages ("string", "object", ...).
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Canonical UTF-8 JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace,
    /// integral numbers without a fraction.
    package var canonicalData: Data {
        var output = ""
        write(to: &output)
        return Data(output.utf8)
    }

    private func write(to output: inout String) {
        switch self {
        case .null:
            output += "null"
        case .bool(let value):
            output += value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
                output += String(Int64(value))
            } else {
                output += "\(value)"
            }
        case .string(let value):
            Self.writeString(value, to: &output)
        case .array(let values):
            output += "["
            for (position, value) in values.enumerated() {
                if position > 0 { output += "," }
                value.write(to: &output)
            }
            output += "]"
        case .object(let members):
            output += "{"
            for (position, key) in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) })
                .enumerated()
            {
                if position > 0 { output += "," }
                Self.writeString(key, to: &output)
                output += ":"
                members[key]?.write(to: &output)
            }
            output += "}"
        }
    }

    private static func writeString(_ value: String, to output: inout String) {
        output += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
