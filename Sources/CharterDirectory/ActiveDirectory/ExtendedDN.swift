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
    package init(parsing text: String) {
        var rest = Substring(text)
        var guid: UUID?
        var sid: SecurityIdentifier?
        while rest.hasPrefix("<"), let close = rest.firstIndex(of: ">") {
            let component = rest[rest.index(after: rest.startIndex)..<close]
            if component.hasPrefix("GUID=") {
                guid = UUID(uuidString: String(component.dropFirst(5)))
            } else if component.hasPrefix("SID=") {
                sid = SecurityIdentifier(String(component.dropFirst(4)))
            }
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(";") { rest = rest.dropFirst() }
        }
        self.init(dn: String(rest), guid: guid, sid: sid)
    }
}
