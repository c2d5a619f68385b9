/// An RFC 4514 distinguished name, parsed into RDNs of attribute type and value pairs.
///
/// Parsing undoes every escape (`\,`, `\"`, `\+`, `\\`, `\2C`, UTF-8 as hex pairs such as `\C3\A9`),
/// accepts RFC 2253 quoted values and spaces around separators. Two DNs are equal when their
/// normalised forms are: attribute types lowercased, values compared case-insensitively as Active
/// Directory does, the attributes of a multi-valued RDN (`cn=a+uid=b`) in sorted order.
///
/// ```swift
/// let dn = try DistinguishedName(#"CN=Smith\, John,OU=Sales,DC=example,DC=com"#)
/// dn.rdns[0].attributes[0].value   // "Smith, John"
/// dn.parent?.description          // "OU=Sales,DC=example,DC=com"
/// ```
package struct DistinguishedName: Sendable, Hashable, CustomStringConvertible {
    /// One `type=value` of an RDN; `value` is unescaped.
    package struct Attribute: Sendable, Hashable {
        package var type: String
        package var value: String

        package init(type: String, value: String) {
            self.type = type
            self.value = value
        }
    }

    /// A relative distinguished name: one or more attributes joined by `+`.
    package struct RDN: Sendable, Hashable {
        package var attributes: [Attribute]

        package init(attributes: [Attribute]) {
            self.attributes = attributes
        }

        /// Sorted `type=value` pairs, lowercased, escaped: the comparison key.
        var normalized: String {
            attributes
                .map { "\($0.type.lowercased())=\(DistinguishedName.escape($0.value.lowercased()))" }
                .sorted()
                .joined(separator: "+")
        }
    }

    /// The RDNs, most specific first (`CN=x` of `CN=x,DC=example,DC=com`).
    package var rdns: [RDN]

    package init(rdns: [RDN]) {
        self.rdns = rdns
    }

    /// Parses an RFC 4514 string; the empty string is the root DN.
    ///
    /// - Throws: `DistinguishedName.ParseError` naming the position of the first problem.
    package init(_ string: String) throws(ParseError) {
        var parser = Parser(bytes: Array(string.utf8))
        self.rdns = try parser.parse()
    }

    /// The DN one level up, or `nil` for the root DN.
    package var parent: DistinguishedName? {
        rdns.isEmpty ? nil : DistinguishedName(rdns: Array(rdns.dropFirst()))
    }

    /// The comparison key: lowercased, escaped per RFC 4514, RDN attributes sorted.
    package var normalized: String {
        rdns.map(\.normalized).joined(separator: ",")
    }

    /// The RFC 4514 string with types and values as given, values re-escaped.
    package var description: String {
        rdns.map { rdn in
            rdn.attributes.map { "\($0.type)=\(DistinguishedName.escape($0.value))" }.joined(separator: "+")
        }.joined(separator: ",")
    }

    /// Whether `self` is `other` or lies anywhere below it.
    package func isWithin(_ other: DistinguishedName) -> Bool {
        guard rdns.count >= other.rdns.count else { return false }
        return zip(rdns.suffix(other.rdns.count), other.rdns).allSatisfy { $0.normalized == $1.normalized }
    }

    package static func == (lhs: DistinguishedName, rhs: DistinguishedName) -> Bool {
        lhs.normalized == rhs.normalized
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(normalized)
    }

    /// RFC 4514 §2.4 escaping of an attribute value.
    package static func escape(_ value: String) -> String {
        var out = ""
        let scalars = Array(value.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            switch scalar {
            case ",", "+", "\"", "\\", "<", ">", ";", "=":
                out += "\\" + String(scalar)
            case "\0":
                out += "\\00"
            case " " where index == 0 || index == scalars.count - 1:
                out += "\\ "
            case "#" where index == 0:
                out += "\\#"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Why a string is not a DN, and where.
    package struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        package var reason: String
        package var offset: Int
        package var description: String { "invalid DN at byte \(offset): \(reason)" }
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func parse() throws(ParseError) -> [RDN] {
            skipSpaces()
            guard index < bytes.count else { return [] }
            var rdns: [RDN] = []
            var attributes: [Attribute] = []
            while true {
                attributes.append(try attribute())
                skipSpaces()
                guard index < bytes.count else { break }
                let separator = bytes[index]
                index += 1
                if separator == UInt8(ascii: "+") { continue }
                guard separator == UInt8(ascii: ",") || separator == UInt8(ascii: ";") else {
                    throw ParseError(reason: "expected ',' or '+'", offset: index - 1)
                }
                rdns.append(RDN(attributes: attributes))
                attributes = []
                skipSpaces()
            }
            rdns.append(RDN(attributes: attributes))
            return rdns
        }

        mutating func skipSpaces() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
        }

        mutating func attribute() throws(ParseError) -> Attribute {
            skipSpaces()
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: "=") {
                let byte = bytes[index]
                let isTypeCharacter =
                    (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                guard isTypeCharacter else {
                    if byte == UInt8(ascii: " ") { break }
                    throw ParseError(reason: "invalid character in attribute type", offset: index)
                }
                index += 1
            }
            let type = String(decoding: bytes[start..<index], as: UTF8.self)
            skipSpaces()
            guard !type.isEmpty, index < bytes.count, bytes[index] == UInt8(ascii: "=") else {
                throw ParseError(reason: "expected attribute type and '='", offset: index)
            }
            index += 1
            skipSpaces()
            return Attribute(type: type, value: try value())
        }

        mutating func value() throws(ParseError) -> String {
            guard index < bytes.count else { return "" }
            if bytes[index] == UInt8(ascii: "#") { return hexString() }
            if bytes[index] == UInt8(ascii: "\"") { return try quoted() }
            var out: [UInt8] = []
            // Count of trailing unescaped spaces, which RFC 4514 says are not part of the value.
            var trailingSpaces = 0
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ";") { break }
                if byte == UInt8(ascii: "\\") {
                    out.append(try escaped())
                    trailingSpaces = 0
                    continue
                }
                trailingSpaces = byte == UInt8(ascii: " ") ? trailingSpaces + 1 : 0
                out.append(byte)
                index += 1
            }
            out.removeLast(trailingSpaces)
            return String(decoding: out, as: UTF8.self)
        }

        /// `#0403…`: a BER-encoded value, kept as its `#hex` text.
        mutating func hexString() -> String {
            let start = index
            index += 1
            while index < bytes.count, hexValue(bytes[index]) != nil { index += 1 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func quoted() throws(ParseError) -> String {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                if bytes[index] == UInt8(ascii: "\\") {
                    out.append(try escaped())
                } else {
                    out.append(bytes[index])
                    index += 1
                }
            }
            guard index < bytes.count else { throw ParseError(reason: "unterminated quoted value", offset: index) }
            index += 1
            return String(decoding: out, as: UTF8.self)
        }

        /// `\,` or `\2C`: one byte.
        mutating func escaped() throws(ParseError) -> UInt8 {
            index += 1
            guard index < bytes.count else { throw ParseError(reason: "dangling backslash", offset: index - 1) }
            if index + 1 < bytes.count, let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) {
                index += 2
                return high << 4 | low
            }
            let byte = bytes[index]
            index += 1
            return byte
        }

        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x41 + 10
            case 0x61...0x66: byte - 0x61 + 10
            default: nil
            }
        }
    }
}
