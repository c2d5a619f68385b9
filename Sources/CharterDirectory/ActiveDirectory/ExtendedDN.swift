package import Foundation

/// A DN-valued attribute as the extended DN control returns it: `<GUID=…>;<SID=…>;CN=…`.
///
/// With the control (1.2.840.113556.1.4.529, string form) every `member` value names the
/// member's objectGUID and, for security principals, its SID, so membership edges resolve by
/// identity even when the member was renamed, lives outside the synced base DN, or is a foreign
/// security principal.
package struct ExtendedDN: Sendable, Hashable {
    package var dn: String
    package var guid: UUID?
    package var sid: SecurityIdentifier?

    package init(dn: String, guid: UUID? = nil, sid: SecurityIdentifier? = nil) {
        self.dn = dn
        self.guid = guid
        self.sid = sid
    }

    /// Splits the `<GUID=…>;<SID=…>;` prefixes from the DN; a plain DN comes back as it is.
    ///
    /// Works on the UTF-8 bytes: a full sync parses one of these per member value (32,500 in the benchmark),
    /// and going through `Substring`, `split` and Foundation's `UUID(uuidString:)` cost a quarter of the sync's CPU.
    package init(parsing text: String) {
        let utf8 = text.utf8
        var rest = utf8.startIndex
        var guid: UUID?
        var sid: SecurityIdentifier?
        while rest < utf8.endIndex, utf8[rest] == UInt8(ascii: "<"),
            let close = utf8[rest...].firstIndex(of: UInt8(ascii: ">"))
        {
            let component = utf8[utf8.index(after: rest)..<close]
            if component.starts(with: "GUID=".utf8) {
                guid = UUID(hexadecimal: component.dropFirst(5))
            } else if component.starts(with: "SID=".utf8) {
                sid = SecurityIdentifier(utf8: component.dropFirst(4))
            }
            rest = utf8.index(after: close)
            if rest < utf8.endIndex, utf8[rest] == UInt8(ascii: ";") { rest = utf8.index(after: rest) }
        }
        self.init(dn: rest == utf8.startIndex ? text : String(text[rest...]), guid: guid, sid: sid)
    }
}
