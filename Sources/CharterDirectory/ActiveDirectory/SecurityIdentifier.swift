/// A Windows security identifier, decoded from AD's binary `objectSid`.
///
/// The binary form is: revision (1 byte), sub-authority count (1 byte), identifier authority
/// (6 bytes, big-endian), then that many 32-bit little-endian sub-authorities. Its string form is
/// `S-1-5-21-3623811015-3361044348-30300820-1013`; the last sub-authority of a domain account is
/// its relative id (RID).
package struct SecurityIdentifier: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var revision: UInt8
    package var authority: UInt64
    package var subAuthorities: [UInt32]

    package init(revision: UInt8 = 1, authority: UInt64, subAuthorities: [UInt32]) {
        self.revision = revision
        self.authority = authority
        self.subAuthorities = subAuthorities
    }

    /// Decodes the binary form; `nil` when the length does not match the count it declares.
    package init?(bytes: [UInt8]) {
        guard bytes.count >= 8 else { return nil }
        let count = Int(bytes[1])
        guard count <= 15, bytes.count == 8 + 4 * count else { return nil }
        revision = bytes[0]
        authority = bytes[2..<8].reduce(0) { $0 << 8 | UInt64($1) }
        subAuthorities = (0..<count).map { index in
            let offset = 8 + 4 * index
            return UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
                | UInt32(bytes[offset + 3]) << 24
        }
    }

    /// Parses `S-1-5-21-…`; `nil` when it is not a SID string.
    package init?(_ string: String) {
        let parts = string.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == "S" || parts[0] == "s", let revision = UInt8(parts[1]),
            let authority = UInt64(parts[2]), authority < 1 << 48
        else { return nil }
        var subAuthorities: [UInt32] = []
        for part in parts.dropFirst(3) {
            guard let value = UInt32(part) else { return nil }
            subAuthorities.append(value)
        }
        guard subAuthorities.count <= 15 else { return nil }
        self.init(revision: revision, authority: authority, subAuthorities: subAuthorities)
    }

    /// The binary form AD stores.
    package var bytes: [UInt8] {
        var out: [UInt8] = [revision, UInt8(subAuthorities.count)]
        out += (0..<6).reversed().map { UInt8(truncatingIfNeeded: authority >> (8 * UInt64($0))) }
        for value in subAuthorities {
            out += [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: value >> UInt32($0)) }
        }
        return out
    }

    package var description: String {
        (["S", String(revision), String(authority)] + subAuthorities.map { String($0) }).joined(separator: "-")
    }

    /// The relative id: the last sub-authority.
    package var rid: UInt32? { subAuthorities.last }

    /// The SID of the account with relative id `rid` in the domain whose SID is `self`.
    package func appending(rid: UInt32) -> SecurityIdentifier {
        SecurityIdentifier(revision: revision, authority: authority, subAuthorities: subAuthorities + [rid])
    }

    package static func < (lhs: SecurityIdentifier, rhs: SecurityIdentifier) -> Bool {
        lhs.description < rhs.description
    }
}
