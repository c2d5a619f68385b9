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
        let b = [bytes[3], bytes[2], bytes[1], bytes[0], bytes[5], bytes[4], bytes[7], bytes[6]] + bytes[8...]
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
