/// One search result entry: its DN and its attributes' values as bytes.
///
/// Attribute names are case-insensitive in LDAP; they are stored lowercased, options included
/// (`member;range=0-1499`).
package struct LDAPEntry: Sendable, Hashable {
    package var dn: String
    /// Values by lowercased attribute description.
    package var attributes: [String: [[UInt8]]]

    package init(dn: String, attributes: [String: [[UInt8]]]) {
        self.dn = dn
        self.attributes = [:]
        for (name, values) in attributes { self.attributes[name.lowercased(), default: []] += values }
    }

    /// All values of `attribute` (any case), empty when absent.
    package func values(_ attribute: String) -> [[UInt8]] {
        attributes[attribute.lowercased()] ?? []
    }

    /// The first value of `attribute` as bytes.
    package func value(_ attribute: String) -> [UInt8]? {
        values(attribute).first
    }

    /// The first value of `attribute` decoded as UTF-8 (invalid sequences repaired).
    package func string(_ attribute: String) -> String? {
        value(attribute).map { String(decoding: $0, as: UTF8.self) }
    }

    /// All values of `attribute` decoded as UTF-8.
    package func strings(_ attribute: String) -> [String] {
        values(attribute).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first value of `attribute` as a decimal integer (LDAP Integer syntax).
    package func integer(_ attribute: String) -> Int64? {
        string(attribute).flatMap { Int64($0) }
    }

    /// The returned range of a ranged attribute: for `member;range=0-1499` the values, the first
    /// index and the last index (`nil` for `*`, the final chunk).
    package func range(of attribute: String) -> (values: [[UInt8]], low: Int, high: Int?)? {
        let prefix = attribute.lowercased() + ";range="
        for (name, values) in attributes where name.hasPrefix(prefix) {
            let bounds = name.dropFirst(prefix.count).split(separator: "-", maxSplits: 1)
            guard bounds.count == 2, let low = Int(bounds[0]) else { continue }
            if bounds[1] == "*" { return (values, low, nil) }
            guard let high = Int(bounds[1]) else { continue }
            return (values, low, high)
        }
        return nil
    }
}
