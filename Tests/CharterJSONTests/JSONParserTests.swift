import CharterJSON
import Foundation
import Testing

@Suite("JSON parser")
struct JSONParserTests {
    static func parse(_ text: String) throws(JSONParser.Failure) -> JSONValue {
        try JSONParser.parse(Data(text.utf8))
    }

    static let accepted: [(String, JSONValue)] = [
        ("true", true), ("false", false), ("null", .null), ("0", 0), ("-0", 0), ("1", 1), ("-1", -1),
        ("9223372036854775807", .integer(.max)), ("-9223372036854775808", .integer(.min)),
        ("9223372036854775808", .number(9_223_372_036_854_775_808)),
        ("-9223372036854775809", .number(-9_223_372_036_854_775_809)),
        ("18446744073709551616", .number(18_446_744_073_709_551_616)),
        ("123456789012345678901234567890", .number(123_456_789_012_345_678_901_234_567_890)),
        ("1.5", 1.5), ("-0.25", -0.25), ("1e2", 100), ("1E+2", 100), ("1.0", 1), ("2.5e-1", 0.25),
        ("1e308", .number(1e308)), ("1e-400", 0), ("0.1", 0.1),
        (#""""#, ""), (#""a""#, "a"), (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{08}\u{0C}\n\r\t"),
        (#""\u0041\u00e9\u20AC""#, "Aé€"), (#""\u0000""#, "\u{0}"), ("\"\u{7F}\"", "\u{7F}"),
        (#""\ud83d\udd10""#, "🔐"), (#""\uD834\uDD1E""#, "𝄞"), ("\"é🔐\"", "é🔐"), (#""a\u00e9b🔐""#, "aéb🔐"),
        ("[]", []), ("{}", [:]), (" \t\r\n[ 1 , \"a\" , null ]\n", [1, "a", .null]),
        (#"{"a":{"b":[true,{}]},"c":[]}"#, ["a": ["b": [true, [:]]], "c": []]),
        (#"{"":1}"#, ["": 1]),
    ]

    @Test("accepts RFC 8259 texts and types numbers as JSONDecoder did", arguments: accepted)
    func accepts(text: String, expected: JSONValue) throws {
        #expect(try Self.parse(text) == expected)
    }

    @Test("agrees with Foundation's JSONDecoder on every accepted text it also accepts", arguments: accepted)
    func agreesWithFoundation(text: String, expected: JSONValue) throws {
        guard let foundation = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else {
            return  // 1e-400: Foundation reads it as the integer 0 too, but only through Int64
        }
        #expect(try Self.parse(text) == foundation)
    }

    static let refused: [(String, JSONParser.Failure.Reason)] = [
        ("", .unexpectedEnd), (" ", .unexpectedEnd), ("[", .unexpectedEnd), ("[1", .unexpectedEnd),
        ("{\"a\"", .unexpectedEnd), ("{\"a\":", .unexpectedEnd), ("\"abc", .unexpectedEnd), ("tru", .unexpectedEnd),
        ("\u{FEFF}{}", .unexpectedByte), ("{}x", .trailingBytes), ("1 2", .trailingBytes), ("[1,]", .unexpectedByte),
        ("[,1]", .unexpectedByte), ("{,}", .unexpectedByte), ("{\"a\":1,}", .unexpectedByte), ("{a:1}", .unexpectedByte),
        ("{'a':1}", .unexpectedByte), ("{\"a\" 1}", .unexpectedByte), ("[1 2]", .unexpectedByte),
        ("True", .unexpectedByte), ("nul1", .unexpectedByte), ("NaN", .unexpectedByte), ("Infinity", .unexpectedByte),
        ("\u{0B}1", .unexpectedByte), ("\u{A0}1", .unexpectedByte), ("/* */1", .unexpectedByte),
        ("01", .trailingBytes), ("-", .invalidNumber), ("-a", .invalidNumber), (".5", .unexpectedByte),
        ("1.", .invalidNumber), ("1.e2", .invalidNumber), ("1e", .invalidNumber), ("1e+", .invalidNumber),
        ("+1", .unexpectedByte), ("0x10", .trailingBytes), ("1e400", .invalidNumber), ("-1e400", .invalidNumber),
        ("\"a\u{01}\"", .invalidString), ("\"a\nb\"", .invalidString), ("\"\\a\"", .invalidEscape),
        ("\"\\x41\"", .invalidEscape), ("\"\\u00g1\"", .invalidEscape), ("\"\\u00\" ", .invalidEscape),
        ("\"\\ud800\"", .invalidEscape), ("\"\\ud800\\u0041\"", .invalidEscape), ("\"\\udc00\"", .invalidEscape),
        ("\"\\udc00\\ud800\"", .invalidEscape), ("\"\\ud800x\"", .invalidEscape),
        ("{\"a\":1,\"a\":2}", .duplicateMember), ("{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", .duplicateMember),
        ("{\"\\u0061\":1,\"a\":2}", .duplicateMember),
    ]

    @Test("refuses malformed texts with the reason", arguments: refused)
    func refuses(text: String, reason: JSONParser.Failure.Reason) {
        do throws(JSONParser.Failure) {
            let value = try Self.parse(text)
            Issue.record("accepted as \(value)")
        } catch {
            #expect(error.reason == reason)
        }
    }

    @Test(
        "refuses invalid UTF-8 in strings, escaped or not",
        arguments: [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
            [0x22, 0x5C, 0x6E, 0xFF, 0x22], [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],
        ] as [[UInt8]]
    )
    func invalidUTF8(bytes: [UInt8]) {
        #expect(throws: JSONParser.Failure(reason: .invalidString, offset: 1)) { try JSONParser.parse(bytes) }
    }

    @Test("nesting is accepted to depth 512 and refused beyond")
    func depth() throws {
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(throws: Never.self) { try Self.parse(deepest) }
        let tooDeep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(
            throws: JSONParser.Failure(reason: .tooDeep, offset: 512, pointer: JSONPointer(Array(repeating: "0", count: 512)))
        ) { try Self.parse(tooDeep) }
        let objects = String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)
        #expect(throws: JSONParser.Failure.self) { try Self.parse(objects) }
    }

    @Test("every single-byte corruption of a small document parses or is refused, never a crash")
    func corruptions() throws {
        let text = Array(#"{"a":[1,-2.5e3,"x\u00e9\n",true,null],"b":{"c":false}}"#.utf8)
        for index in text.indices {
            for byte: UInt8 in [0x00, 0x22, 0x2C, 0x5C, 0x7B, 0x5D, 0x30, 0x80, 0xFF] {
                var corrupted = text
                corrupted[index] = byte
                if let value = try? JSONParser.parse(corrupted) {
                    // Whatever is accepted must survive the canonical form unchanged.
                    #expect(try JSONParser.parse(value.canonicalData) == value)
                }
            }
        }
    }

    @Test("the canonical form of awkward strings and numbers parses back to the same value")
    func roundTrip() throws {
        let tricky: JSONValue = [
            "s": "quote \" backslash \\ slash / newline \n nul \u{0} bell \u{07} del \u{7F} é 🔐 \u{2028}",
            "n": [0.1, -1.5e-7, 1e300, 1e21, .integer(.min), .integer(.max)], "": [[], [:]],
        ]
        #expect(try JSONParser.parse(tricky.canonicalData) == tricky)
        #expect(try JSONDecoder().decode(JSONValue.self, from: tricky.canonicalData) == tricky)
    }

    @Test(
        "a failure points at the value being read, and a repeated member at itself",
        arguments: [
            (#"{"a": 1,}"#, ""), ("[1, 2,]", "/2"), (#"{"a": "b"#, "/a"), (#"{"a" 1}"#, "/a"),
            (#"{"a": {"b": tru}}"#, "/a/b"), (#"["\ud800"]"#, "/0"), (#"{"a/b": [{"~": x}]}"#, "/a~1b/0/~0"),
            (#"{"x": {"m": 1, "m": 2}}"#, "/x/m"), ("{} {}", ""),
        ]
    )
    func pointers(text: String, pointer: String) {
        do throws(JSONParser.Failure) {
            let value = try Self.parse(text)
            Issue.record("accepted as \(value)")
        } catch {
            #expect(error.pointer.description == pointer)
        }
    }

    @Test("the depth limit is the caller's")
    func callersDepth() {
        let deep = Data((String(repeating: "[", count: 65) + String(repeating: "]", count: 65)).utf8)
        #expect(throws: JSONParser.Failure.self) { try JSONParser.parse(deep, maximumDepth: 64) }
        #expect(throws: Never.self) { try JSONParser.parse(deep, maximumDepth: 65) }
    }
}
