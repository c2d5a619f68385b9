public import Foundation

/// Base64url encoding without padding (RFC 4648 §5, as used by JOSE in RFC 7515 §2).
///
/// Decoding is strict: it rejects padding, characters outside the URL-safe alphabet,
/// whitespace, impossible lengths and non-canonical trailing bits, so that one byte string
/// has exactly one textual form in every header, key and signature.
public enum Base64URL {
    /// Encodes bytes as unpadded base64url.
    ///
    /// - Parameter bytes: The bytes to encode.
    /// - Returns: The base64url text, without `=` padding.
    public static func encode(_ bytes: some DataProtocol) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") {
            text.removeLast()
        }
        return String(
            text.map { character -> Character in
                switch character {
                case "+": "-"
                case "/": "_"
                default: character
                }
            }
        )
    }

    /// Decodes unpadded base64url text.
    ///
    /// - Parameter text: The text to decode.
    /// - Returns: The decoded bytes, or `nil` when the text is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> Data? {
        var standard = ""
        standard.reserveCapacity(text.utf8.count + 2)
        for character in text.unicodeScalars {
            switch character {
            case "A"..."Z", "a"..."z", "0"..."9": standard.unicodeScalars.append(character)
            case "-": standard.append("+")
            case "_": standard.append("/")
            default: return nil
            }
        }
        switch standard.utf8.count % 4 {
        case 0: break
        case 2: standard.append("==")
        case 3: standard.append("=")
        default: return nil
        }
        guard let data = Data(base64Encoded: standard) else {
            return nil
        }
        // Reject non-canonical encodings whose unused trailing bits are not zero.
        guard encode(data) == String(text) else {
            return nil
        }
        return data
    }
}
