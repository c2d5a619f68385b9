/// Normalises hexadecimal digests (SHA-256 file hashes, certificate thumbprints) for comparison.
package enum HexDigest {
    /// `text` in lowercase when it is only hexadecimal digits of one of `lengths`; `nil` otherwise.
    ///
    /// Spaces and colons, which certificate viewers put between byte pairs, are removed first.
    package static func normalized(_ text: String, lengths: Set<Int>) -> String? {
        let digits = text.filter { $0 != " " && $0 != ":" }
        guard lengths.contains(digits.count), digits.allSatisfy(\.isHexDigit) else { return nil }
        return digits.lowercased()
    }
}
