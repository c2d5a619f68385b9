/// Splitting of a JOSE compact serialisation into its dot-separated parts.
enum CompactSerialization {
    /// Splits `text` at every `.`, working on UTF-8 bytes (a bundle is tens of kilobytes, and
    /// splitting by `Character` would segment graphemes for nothing).
    ///
    /// - Parameters:
    ///   - text: The compact serialisation.
    ///   - count: The number of parts the format has.
    /// - Returns: The parts, or `nil` when there are not exactly `count` of them.
    static func parts(of text: String, count: Int) -> [Substring]? {
        let parts = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == count else {
            return nil
        }
        return parts.map { Substring($0) }
    }
}
