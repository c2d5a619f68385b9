public import Foundation

extension JSONValue {
    /// The JSON text of the value: object members sorted by their UTF-8 bytes, no whitespace,
    /// `/` and non-ASCII characters unescaped.
    ///
    /// This is the form RFC 7638 asks for in thumbprints, the form Charter signs, and the form Core
    /// stores settings and subsetting documents in, so a bundle carries a stored document as it is and
    /// equal documents hash equally. An integer is written with its digits, any other number as Swift
    /// writes the `Double` (`1.5`, `1e+21`); a non-finite number, which JSON cannot express, is written
    /// as `null`.
    public var canonicalData: Data {
        Data(canonicalBytes)
    }

    /// The canonical JSON text as bytes (see ``canonicalData``).
    package var canonicalBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        writeCanonical(to: &output)
        return output
    }

    /// Appends the canonical JSON text of the value to `output`.
    package func writeCanonical(to output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let value):
            output.append(contentsOf: (value ? "true" : "false").utf8)
        case .integer(let value):
            Self.write(integer: value, to: &output)
        case .number(let value):
            output.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        case .string(let value):
            Self.write(string: value, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            var isFirst = true
            for element in elements {
                if !isFirst { output.append(UInt8(ascii: ",")) }
                isFirst = false
                element.writeCanonical(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            var isFirst = true
            for (name, value) in members.sorted(by: { Self.utf8Precedes($0.key, $1.key) }) {
                if !isFirst { output.append(UInt8(ascii: ",")) }
                isFirst = false
                Self.write(string: name, to: &output)
                output.append(UInt8(ascii: ":"))
                value.writeCanonical(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Tells whether `a` sorts before `b` by UTF-8 bytes, the member order of the canonical form.
    package static func utf8Precedes(_ a: String, _ b: String) -> Bool {
        let fast = a.utf8.withContiguousStorageIfAvailable { a in
            b.utf8.withContiguousStorageIfAvailable { b in
                let count = min(a.count, b.count)
                for index in 0..<count where a[index] != b[index] {
                    return a[index] < b[index]
                }
                return a.count < b.count
            }
        }
        if let fast, let result = fast {
            return result
        }
        return a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    /// Appends the decimal digits of an integer.
    package static func write(integer value: Int64, to output: inout [UInt8]) {
        if value < 0 {
            output.append(UInt8(ascii: "-"))
        }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes, enough for the 20 digits of UInt64.max
        withUnsafeMutableBytes(of: &digits) { buffer in
            var index = buffer.count
            repeat {
                index -= 1
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            output.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }

    /// Appends a string literal: quotes, and escapes for `"`, `\` and control characters only.
    package static func write(string: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            // Copy runs of bytes that need no escape in one go; escapes are rare in settings.
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                    continue
                }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
                runStart = index + 1
                writeEscape(of: byte, to: &output)
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func writeEscape(of byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): output.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): output.append(contentsOf: #"\\"#.utf8)
        case UInt8(ascii: "\n"): output.append(contentsOf: #"\n"#.utf8)
        case UInt8(ascii: "\r"): output.append(contentsOf: #"\r"#.utf8)
        case UInt8(ascii: "\t"): output.append(contentsOf: #"\t"#.utf8)
        case 0x08: output.append(contentsOf: #"\b"#.utf8)
        case 0x0C: output.append(contentsOf: #"\f"#.utf8)
        default:
            let hex = "0123456789abcdef".utf8
            output.append(contentsOf: #"\u00"#.utf8)
            output.append(hex[hex.index(hex.startIndex, offsetBy: Int(byte >> 4))])
            output.append(hex[hex.index(hex.startIndex, offsetBy: Int(byte & 0x0F))])
        }
    }
}
