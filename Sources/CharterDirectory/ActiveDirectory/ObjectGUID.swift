package import Foundation

extension UUID {
    /// The UUID of an Active Directory `objectGUID` (or `invocationId`) value, as AD displays it.
    ///
    /// AD stores a GUID as 16 bytes whose first three fields are little-endian: the bytes
    /// `a1 a2 a3 a4 b1 b2 c1 c2 d…` read as `a4a3a2a1-b2b1-c2c1-d…`.
    ///
    /// - Returns: `nil` unless `bytes` has exactly 16 bytes.
    package init?(activeDirectoryBytes bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        let b = bytes
        self.init(
            uuid: (b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }

    /// Parses the string form (`c5158a43-649e-4db4-90ff-012a8e462664`, either case) from UTF-8 bytes: 32 hex
    /// digits, hyphens anywhere between them ignored; `nil` for anything else.
    package init?(hexadecimal text: some Collection<UInt8>) {
        var bytes = [UInt8](repeating: 0, count: 16)
        var digits = 0
        for character in text {
            let nibble: UInt8
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = character - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = character - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = character - UInt8(ascii: "A") + 10
            case UInt8(ascii: "-"): continue
            default: return nil
            }
            guard digits < 32 else { return nil }
            bytes[digits / 2] |= digits % 2 == 0 ? nibble << 4 : nibble
            digits += 1
        }
        guard digits == 32 else { return nil }
        let b = bytes
        self.init(
            uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])
        )
    }

    /// The 16 bytes AD stores for this GUID (inverse of `init(activeDirectoryBytes:)`), e.g. for
    /// an `(objectGUID=\xx…)` filter.
    package var activeDirectoryBytes: [UInt8] {
        let u = uuid
        return [u.3, u.2, u.1, u.0, u.5, u.4, u.7, u.6, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
    }
}
