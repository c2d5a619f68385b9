/// The one JSON parser of Charter: strict RFC 8259, from UTF-8 bytes straight into ``JSONValue``.
///
/// Core reads settings and subsetting documents with it, Bundle reads JOSE headers, claims and keys.
/// It is written by hand rather than taken from Foundation because `JSONSerialization` and `JSONDecoder`
/// silently keep one of two members with the same name, type numbers only by probing each node with
/// thrown errors, and give neither the RFC 6901 pointer of a problem nor a depth limit of the caller's
/// choosing. It accepts exactly RFC 8259 JSON text and refuses:
/// a byte order mark, whitespace other than space, tab, LF and CR, trailing bytes, raw control
/// characters or invalid UTF-8 in strings, unpaired surrogate escapes, numbers outside the grammar
/// (`01`, `.5`, `1.`, `+1`, `NaN`) or too large for a `Double`, nesting deeper than the caller's
/// `maximumDepth`, and **duplicate member names** (RFC 7515 §5.2 and RFC 7519 §4 ask a JOSE
/// recipient to reject them or keep the last; rejecting leaves no room for two readers to see
/// different claims, and a policy document's author learns of the mistake).
///
/// Numbers are typed as `JSONDecoder` typed them for ``JSONValue``: an integer literal that fits in
/// `Int64` is ``JSONValue/integer(_:)``; a number with a fraction or exponent whose `Double` value is
/// an exact `Int64` (`1e2`, `1.0`) is an integer too; the rest is ``JSONValue/number(_:)``.
///
/// A ``Failure`` tells where parsing stopped twice over: the byte ``Failure/offset``, and the
/// ``Failure/pointer`` of the value being read, built only while a failure unwinds, so a successful
/// parse pays nothing for it.
package struct JSONParser {
    /// Why a text is not acceptable JSON, and where.
    package struct Failure: Error, Hashable, CustomStringConvertible {
        /// What is wrong.
        package enum Reason: String, Hashable, Sendable {
            case unexpectedEnd = "unexpected end of text"
            case unexpectedByte = "unexpected byte"
            case invalidNumber = "invalid or unrepresentable number"
            case invalidString = "control character or invalid UTF-8 in a string"
            case invalidEscape = "invalid escape or unpaired surrogate"
            case duplicateMember = "duplicate member name"
            case tooDeep = "nesting too deep"
            case trailingBytes = "bytes after the value"
        }

        package let reason: Reason
        /// The byte position where parsing stopped.
        package let offset: Int
        /// The value being read when parsing stopped: for a repeated member, the member itself.
        package private(set) var pointer: JSONPointer

        package init(reason: Reason, offset: Int, pointer: JSONPointer = JSONPointer()) {
            self.reason = reason
            self.offset = offset
            self.pointer = pointer
        }

        package var description: String { "\(reason.rawValue) at byte \(offset)" }

        /// The same failure, seen from the container whose member or element `token` it lies in.
        func inside(_ token: String) -> Failure {
            var failure = self
            failure.pointer = JSONPointer([token] + pointer.tokens)
            return failure
        }
    }

    /// The deepest nesting of arrays and objects accepted unless the caller asks otherwise, as in
    /// Foundation's `JSONDecoder`.
    package static let defaultMaximumDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private let maximumDepth: Int
    private var depth = 0

    private init(bytes: UnsafeBufferPointer<UInt8>, maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    /// Parses one JSON text.
    ///
    /// - Parameters:
    ///   - data: The UTF-8 bytes of the whole text.
    ///   - maximumDepth: The deepest nesting of arrays and objects accepted.
    /// - Returns: The value.
    /// - Throws: ``Failure`` for anything that is not exactly one RFC 8259 JSON text.
    package static func parse(
        _ data: some Sequence<UInt8>,
        maximumDepth: Int = defaultMaximumDepth
    ) throws(Failure) -> JSONValue {
        let result: Result<JSONValue, Failure>? = data.withContiguousStorageIfAvailable { buffer in
            parse(buffer: buffer, maximumDepth: maximumDepth)
        }
        if let result {
            return try result.get()
        }
        return try Array(data).withUnsafeBufferPointer { parse(buffer: $0, maximumDepth: maximumDepth) }.get()
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>, maximumDepth: Int) -> Result<JSONValue, Failure> {
        var parser = JSONParser(bytes: buffer, maximumDepth: maximumDepth)
        do throws(Failure) {
            parser.skipWhitespace()
            let value = try parser.parseValue()
            parser.skipWhitespace()
            guard parser.position == buffer.count else {
                throw parser.failure(.trailingBytes)
            }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    // MARK: - Structure

    private func failure(_ reason: Failure.Reason) -> Failure {
        Failure(reason: reason, offset: position)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
            default: return
            }
        }
    }

    private func peek() throws(Failure) -> UInt8 {
        guard position < bytes.count else {
            throw failure(.unexpectedEnd)
        }
        return bytes[position]
    }

    private mutating func expect(_ literal: StaticString, value: JSONValue) throws(Failure) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else {
            throw failure(.unexpectedEnd)
        }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        for index in 0..<count where bytes[position + index] != expected[index] {
            position += index
            throw failure(.unexpectedByte)
        }
        position += count
        return value
    }

    private mutating func parseValue() throws(Failure) -> JSONValue {
        switch try peek() {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
        case UInt8(ascii: "n"): return try expect("null", value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure(.unexpectedByte)
        }
    }

    private mutating func enter() throws(Failure) {
        depth += 1
        guard depth <= maximumDepth else {
            throw failure(.tooDeep)
        }
        position += 1
        skipWhitespace()
    }

    private mutating func parseArray() throws(Failure) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        var elements: [JSONValue] = []
        if try peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            do {
                elements.append(try parseValue())
            } catch {
                throw error.inside(String(elements.count))
            }
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default:
                throw failure(.unexpectedByte)
            }
        }
    }

    private mutating func parseObject() throws(Failure) -> JSONValue {
        try enter()
        defer { depth -= 1 }
        var members: [String: JSONValue] = [:]
        if try peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            guard try peek() == UInt8(ascii: "\"") else {
                throw failure(.unexpectedByte)
            }
            let nameStart = position
            let name = try parseString()
            do {
                try parseMember(named: name, startingAt: nameStart, into: &members)
            } catch {
                throw error.inside(name)
            }
            skipWhitespace()
            switch try peek() {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            default:
                throw failure(.unexpectedByte)
            }
        }
    }

    /// Reads `: value` after the name of a member and adds the member.
    private mutating func parseMember(
        named name: String,
        startingAt nameStart: Int,
        into members: inout [String: JSONValue]
    ) throws(Failure) {
        skipWhitespace()
        guard try peek() == UInt8(ascii: ":") else {
            throw failure(.unexpectedByte)
        }
        position += 1
        skipWhitespace()
        let value = try parseValue()
        guard members.updateValue(value, forKey: name) == nil else {
            position = nameStart
            throw failure(.duplicateMember)
        }
    }

    // MARK: - Strings

    private mutating func parseString() throws(Failure) -> String {
        position += 1
        let start = position
        // Fast path: no escapes, so the string is the bytes between the quotes, validated as UTF-8.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<position])
                guard let string = String(validating: slice, as: UTF8.self) else {
                    position = start
                    throw failure(.invalidString)
                }
                position += 1
                return string
            }
            if byte == UInt8(ascii: "\\") {
                return try parseEscapedString(from: start)
            }
            guard byte >= 0x20 else {
                throw failure(.invalidString)
            }
            position += 1
        }
        throw failure(.unexpectedEnd)
    }

    private mutating func parseEscapedString(from start: Int) throws(Failure) -> String {
        var buffer = Array(bytes[start..<position])
        buffer.reserveCapacity(buffer.count + 32)
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                guard let string = String(validating: buffer, as: UTF8.self) else {
                    position = start
                    throw failure(.invalidString)
                }
                position += 1
                return string
            case UInt8(ascii: "\\"):
                position += 1
                try appendEscape(to: &buffer)
            case 0x00..<0x20:
                throw failure(.invalidString)
            default:
                buffer.append(byte)
                position += 1
            }
        }
        throw failure(.unexpectedEnd)
    }

    private mutating func appendEscape(to buffer: inout [UInt8]) throws(Failure) {
        let byte = try peek()
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(byte)
        case UInt8(ascii: "b"): buffer.append(0x08)
        case UInt8(ascii: "f"): buffer.append(0x0C)
        case UInt8(ascii: "n"): buffer.append(0x0A)
        case UInt8(ascii: "r"): buffer.append(0x0D)
        case UInt8(ascii: "t"): buffer.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try parseHex4())
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate.
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else {
                    throw failure(.invalidEscape)
                }
                position += 2
                let low = UInt32(try parseHex4())
                guard (0xDC00..<0xE000).contains(low) else {
                    throw failure(.invalidEscape)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicodeScalar = Unicode.Scalar(scalar) else {
                throw failure(.invalidEscape)
            }
            appendUTF8(of: unicodeScalar.value, to: &buffer)
        default:
            position -= 1
            throw failure(.invalidEscape)
        }
    }

    private func appendUTF8(of scalar: UInt32, to buffer: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            buffer.append(UInt8(scalar))
        case 0x80..<0x800:
            buffer.append(UInt8(0xC0 | scalar >> 6))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            buffer.append(UInt8(0xE0 | scalar >> 12))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        default:
            buffer.append(UInt8(0xF0 | scalar >> 18))
            buffer.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            buffer.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            buffer.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    private mutating func parseHex4() throws(Failure) -> UInt16 {
        guard position + 4 <= bytes.count else {
            throw failure(.unexpectedEnd)
        }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure(.invalidEscape)
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    // MARK: - Numbers

    private mutating func parseNumber() throws(Failure) -> JSONValue {
        let start = position
        let isNegative = bytes[position] == UInt8(ascii: "-")
        if isNegative {
            position += 1
        }
        // int = zero / ( digit1-9 *DIGIT )
        let integerStart = position
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw failure(.invalidNumber)
        }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        }
        let integerEnd = position
        var isIntegerLiteral = true
        // frac = decimal-point 1*DIGIT
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isIntegerLiteral = false
            position += 1
            try skipDigits()
        }
        // exp = e [ minus / plus ] 1*DIGIT
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            isIntegerLiteral = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+") {
                position += 1
            }
            try skipDigits()
        }
        if isIntegerLiteral, let integer = exactInteger(bytes[integerStart..<integerEnd], isNegative: isNegative) {
            return .integer(integer)
        }
        // As with JSONDecoder, an integer literal beyond Int64 stays a Double even when it rounds into range.
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let number = Double(text), number.isFinite else {
            position = start
            throw failure(.invalidNumber)
        }
        if !isIntegerLiteral, let integer = Int64(exactly: number) {
            return .integer(integer)
        }
        return .number(number)
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() throws(Failure) {
        guard position < bytes.count, isDigit(bytes[position]) else {
            throw failure(.invalidNumber)
        }
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    }

    /// The digits as an `Int64`, or `nil` when they do not fit.
    private func exactInteger(_ digits: Slice<UnsafeBufferPointer<UInt8>>, isNegative: Bool) -> Int64? {
        guard digits.count <= 19 else {
            return nil
        }
        var magnitude: UInt64 = 0
        for digit in digits {
            magnitude = magnitude * 10 + UInt64(digit - UInt8(ascii: "0"))
        }
        if isNegative {
            return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }
}
