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
        self.init(utf8: string.utf8)
    }

    /// Parses `S-1-5-21-…` from UTF-8 bytes: `S` (or `s`), then decimal numbers after hyphens: the revision
    /// (at most 255), the authority (below 2⁴⁸) and up to 15 sub-authorities (32 bits each).
    package init?(utf8 text: some Collection<UInt8>) {
        var iterator = text.makeIterator()
        guard let first = iterator.next(), first == UInt8(ascii: "S") || first == UInt8(ascii: "s"),
            iterator.next() == UInt8(ascii: "-")
        else { return nil }
        var numbers: [UInt64] = []
        var current: UInt64 = 0
        var hasDigits = false
        while true {
            let character = iterator.next()
            switch character {
            case .some(UInt8(ascii: "0")...UInt8(ascii: "9")):
                current = current * 10 + UInt64(character! - UInt8(ascii: "0"))
                guard current < 1 << 48 else { return nil }
                hasDigits = true
            case .some(UInt8(ascii: "-")), .none:
                guard hasDigits, numbers.count < 17 else { return nil }
                numbers.append(current)
                current = 0
                hasDigits = false
                if character == nil {
                    guard numbers.count >= 2, let revision = UInt8(exactly: numbers[0]) else { return nil }
                    var subAuthorities: [UInt32] = []
                    subAuthorities.reserveCapacity(numbers.count - 2)
                    for number in numbers.dropFirst(2) {
                        guard let value = UInt32(exactly: number) else { return nil }
                        subAuthorities.append(value)
                    }
                    self.init(revision: revision, authority: numbers[1], subAuthorities: subAuthorities)
                    return
                }
            default:
                return nil
            }
        }
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
        var text = "S-\(revision)-\(authority)"
        for value in subAuthorities {
            text += "-"
            text += String(value)
        }
        return text
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
