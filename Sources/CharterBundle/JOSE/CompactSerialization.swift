/// Splitting of a JOSE compact serialisation into its dot-separated parts.
enum CompactSerialization {
    /// Splits `text` at every `.`, scanning its UTF-8 bytes in one pass (a bundle is tens of
    /// kilobytes: splitting by `Character`, or through a generic closure per byte, costs more than
    /// the cryptography).
    ///
    /// - Parameters:
    ///   - text: The compact serialisation.
    ///   - count: The number of parts the format has.
    /// - Returns: The parts, or `nil` when there are not exactly `count` of them.
    static func parts(of text: String, count: Int) -> [Substring]? {
        var text = text
        let dots: [Int]? = text.withUTF8 { bytes in
            var dots: [Int] = []
            dots.reserveCapacity(count - 1)
            for index in bytes.indices where bytes[index] == UInt8(ascii: ".") {
                guard dots.count < count - 1 else {
                    return nil
                }
                dots.append(index)
            }
            return dots
        }
        guard let dots, dots.count == count - 1 else {
            return nil
        }
        let utf8 = text.utf8
        var parts: [Substring] = []
        parts.reserveCapacity(count)
        var start = utf8.startIndex
        for offset in dots + [utf8.count] {
            let end = utf8.index(utf8.startIndex, offsetBy: offset)
            parts.append(text[start..<end])
            start = end < utf8.endIndex ? utf8.index(after: end) : end
        }
        return parts
    }
}
