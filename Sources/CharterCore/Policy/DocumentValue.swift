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
    /// integral numbers without a fraction; byte for byte the canonical form CharterBundle signs (its
    /// `JSONValue.canonicalData`), so a bundle can carry the text as it is.
    package var canonicalData: Data {
        var output: [UInt8] = []
        output.reserveCapacity(1024)
        write(to: &output)
        return Data(output)
    }

    private func write(to output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let value):
            output.append(contentsOf: (value ? "true" : "false").utf8)
        case .number(let value):
            if value.rounded() == value, abs(value) < 9_007_199_254_740_992 {
                Self.write(integer: Int64(value), to: &output)
            } else {
                output.append(contentsOf: value.description.utf8)
            }
        case .string(let value):
            Self.write(string: value, to: &output)
        case .array(let values):
            output.append(UInt8(ascii: "["))
            for (position, value) in values.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                value.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (position, member) in members.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) })
                .enumerated()
            {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                Self.write(string: member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                member.value.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func write(integer value: Int64, to output: inout [UInt8]) {
        if value < 0 { output.append(UInt8(ascii: "-")) }
        let start = output.count
        var magnitude = value.magnitude
        repeat {
            output.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        output[start...].reverse()
    }

    /// A string literal: quotes, and escapes for `"`, `\` and control characters only; runs of other bytes
    /// (all of UTF-8 above 0x1F) are copied as they are.
    private static func write(string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
                case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
                case UInt8(ascii: "\n"): output.append(contentsOf: #"\n"#.utf8)
                case UInt8(ascii: "\r"): output.append(contentsOf: #"\r"#.utf8)
                case UInt8(ascii: "\t"): output.append(contentsOf: #"\t"#.utf8)
                case 0x08: output.append(contentsOf: #"\b"#.utf8)
                case 0x0C: output.append(contentsOf: #"\f"#.utf8)
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    output.append(contentsOf: #"\u00"#.utf8)
                    output.append(hex[Int(byte >> 4)])
                    output.append(hex[Int(byte & 0x0F)])
                }
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        output.append(UInt8(ascii: "\""))
    }
}
