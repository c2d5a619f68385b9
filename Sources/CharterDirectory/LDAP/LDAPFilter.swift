/// RFC 4515 filter value escaping.
///
/// Values from users or from the directory go into filters only through these functions, so a
/// name such as `a*)(objectClass=*` matches itself and nothing else.
package enum LDAPFilter {
    /// Escapes a string value: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`.
    /// Other characters (non-ASCII included) pass as UTF-8, which RFC 4515 allows.
    package static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "*": escaped += "\\2a"
            case "(": escaped += "\\28"
            case ")": escaped += "\\29"
            case "\\": escaped += "\\5c"
            case "\0": escaped += "\\00"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// Escapes binary data (an objectGUID or objectSid) as `\xx` for every byte.
    package static func escape(bytes: some Sequence<UInt8>) -> String {
        bytes.map { "\\" + hexByte($0) }.joined()
    }

    /// `(attribute=value)` with the value escaped.
    package static func equality(_ attribute: String, _ value: String) -> String {
        "(\(attribute)=\(escape(value)))"
    }

    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }
}
