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
        var encoded = [UInt8](Data(bytes).base64EncodedData())
        while encoded.last == UInt8(ascii: "=") {
            encoded.removeLast()
        }
        for index in encoded.indices {
            switch encoded[index] {
            case UInt8(ascii: "+"): encoded[index] = UInt8(ascii: "-")
            case UInt8(ascii: "/"): encoded[index] = UInt8(ascii: "_")
            default: break
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// Decodes unpadded base64url text.
    ///
    /// - Parameter text: The text to decode.
    /// - Returns: The decoded bytes, or `nil` when the text is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> Data? {
        var standard = [UInt8]()
        standard.reserveCapacity(text.utf8.count + 2)
        var lastValue: UInt8 = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"):
                lastValue = byte - UInt8(ascii: "A")
                standard.append(byte)
            case UInt8(ascii: "a")...UInt8(ascii: "z"):
                lastValue = byte - UInt8(ascii: "a") + 26
                standard.append(byte)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                lastValue = byte - UInt8(ascii: "0") + 52
                standard.append(byte)
            case UInt8(ascii: "-"):
                lastValue = 62
                standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"):
                lastValue = 63
                standard.append(UInt8(ascii: "/"))
            default:
                return nil
            }
        }
        // The unused low bits of the last character must be zero, so that the text is canonical.
        switch standard.count % 4 {
        case 0:
            break
        case 2:
            guard lastValue & 0x0F == 0 else { return nil }
            standard.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "=")])
        case 3:
            guard lastValue & 0x03 == 0 else { return nil }
            standard.append(UInt8(ascii: "="))
        default:
            return nil
        }
        return Data(base64Encoded: Data(standard))
    }
}
