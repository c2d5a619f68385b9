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
        let count = encodedCount(bytes.count)
        return withContiguousBytes(bytes) { input in
            String(unsafeUninitializedCapacity: count) { output in
                encode(input, into: UnsafeMutableRawBufferPointer(output))
                return count
            }
        }
    }

    /// Appends the unpadded base64url text of `bytes` to `output`.
    static func append(encoding bytes: some DataProtocol, to output: inout [UInt8]) {
        let count = encodedCount(bytes.count)
        withContiguousBytes(bytes) { input in
            let start = output.count
            output.append(contentsOf: repeatElement(0, count: count))
            output.withUnsafeMutableBytes { buffer in
                encode(input, into: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
            }
        }
    }

    /// The length of the unpadded encoding of `byteCount` bytes.
    static func encodedCount(_ byteCount: Int) -> Int {
        byteCount / 3 * 4 + [0, 2, 3][byteCount % 3]
    }

    private static func withContiguousBytes<Result>(
        _ bytes: some DataProtocol,
        _ body: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        if bytes.regions.count == 1, let region = bytes.regions.first {
            return region.withUnsafeBytes(body)
        }
        return Array(bytes).withUnsafeBytes(body)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    private static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        alphabet.withUnsafeBufferPointer { table in
            var read = 0
            var write = 0
            let whole = input.count / 3 * 3
            while read < whole {
                let value = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8 | UInt32(input[read + 2])
                output[write] = table[Int(value >> 18)]
                output[write + 1] = table[Int(value >> 12 & 0x3F)]
                output[write + 2] = table[Int(value >> 6 & 0x3F)]
                output[write + 3] = table[Int(value & 0x3F)]
                read += 3
                write += 4
            }
            switch input.count - whole {
            case 1:
                let value = UInt32(input[read]) << 16
                output[write] = table[Int(value >> 18)]
                output[write + 1] = table[Int(value >> 12 & 0x3F)]
            case 2:
                let value = UInt32(input[read]) << 16 | UInt32(input[read + 1]) << 8
                output[write] = table[Int(value >> 18)]
                output[write + 1] = table[Int(value >> 12 & 0x3F)]
                output[write + 2] = table[Int(value >> 6 & 0x3F)]
            default:
                break
            }
        }
    }

    /// Decodes unpadded base64url text.
    ///
    /// - Parameter text: The text to decode.
    /// - Returns: The decoded bytes, or `nil` when the text is not canonical unpadded base64url.
    public static func decode(_ text: some StringProtocol) -> Data? {
        if let decoded = text.utf8.withContiguousStorageIfAvailable({ decode(bytes: UnsafeRawBufferPointer($0)) }) {
            return decoded
        }
        var copy = String(text)
        return copy.withUTF8 { decode(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The value of each base64url character, or 0xFF for a byte outside the alphabet.
    private static let values: [UInt8] = {
        var values = [UInt8](repeating: 0xFF, count: 256)
        for (value, character) in alphabet.enumerated() {
            values[Int(character)] = UInt8(value)
        }
        return values
    }()

    /// Decodes unpadded base64url bytes, or returns `nil` when they are not canonical unpadded base64url.
    static func decode(bytes input: UnsafeRawBufferPointer) -> Data? {
        let remainder = input.count % 4
        guard remainder != 1 else {
            return nil
        }
        let byteCount = input.count / 4 * 3 + [0, 0, 1, 2][remainder]
        var output = Data(count: byteCount)
        let isValid = values.withUnsafeBufferPointer { (table: UnsafeBufferPointer<UInt8>) -> Bool in
            output.withUnsafeMutableBytes { (output: UnsafeMutableRawBufferPointer) -> Bool in
                var read = 0
                var write = 0
                let whole = input.count - remainder
                while read < whole {
                    let a = table[Int(input[read])]
                    let b = table[Int(input[read + 1])]
                    let c = table[Int(input[read + 2])]
                    let d = table[Int(input[read + 3])]
                    guard (a | b | c | d) & 0xC0 == 0 else {
                        return false
                    }
                    let value = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    output[write] = UInt8(truncatingIfNeeded: value >> 16)
                    output[write + 1] = UInt8(truncatingIfNeeded: value >> 8)
                    output[write + 2] = UInt8(truncatingIfNeeded: value)
                    read += 4
                    write += 3
                }
                // The unused low bits of the last character must be zero, so that the text is canonical.
                switch remainder {
                case 2:
                    let a = table[Int(input[read])]
                    let b = table[Int(input[read + 1])]
                    guard (a | b) & 0xC0 == 0, b & 0x0F == 0 else {
                        return false
                    }
                    output[write] = a << 2 | b >> 4
                case 3:
                    let a = table[Int(input[read])]
                    let b = table[Int(input[read + 1])]
                    let c = table[Int(input[read + 2])]
                    guard (a | b | c) & 0xC0 == 0, c & 0x03 == 0 else {
                        return false
                    }
                    output[write] = a << 2 | b >> 4
                    output[write + 1] = (b & 0x0F) << 4 | c >> 2
                default:
                    break
                }
                return true
            }
        }
        return isValid ? output : nil
    }
}
