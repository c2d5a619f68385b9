import CharterJSON
import Foundation
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    static let decodingTable: [(String, JSONValue)] = [
        ("true", .bool(true)),
        ("false", .bool(false)),
        ("1", .integer(1)),
        ("0", .integer(0)),
        ("-9223372036854775808", .integer(.min)),
        ("1.5", .number(1.5)),
        ("1e2", .integer(100)),  // an integral number is an integer, however it is written
        ("18446744073709551616", .number(18_446_744_073_709_551_616)),
        (#""1""#, .string("1")),
        ("null", .null),
        ("[1,\"a\",null]", [1, "a", .null]),
        (#"{"a":{"b":[true]}}"#, ["a": ["b": [true]]]),
    ]

    @Test(
        "decoding keeps booleans, integers, numbers, strings, null, arrays and objects apart",
        arguments: decodingTable
    )
    func decoding(json: String, expected: JSONValue) throws {
        #expect(try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8)) == expected)
    }

    @Test("the canonical form sorts members by their bytes and has no whitespace")
    func canonical() {
        let value: JSONValue = ["b": 1, "a": [true, .null, 1.5], "B": "x/y", "é": "ü"]
        #expect(
            String(decoding: value.canonicalData, as: UTF8.self) == #"{"B":"x/y","a":[true,null,1.5],"b":1,"é":"ü"}"#
        )
    }

    @Test("strings with quotes, backslashes and control characters survive the canonical form")
    func escaping() throws {
        let tricky = JSONValue.string("quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{00} emoji 🔐")
        let data = tricky.canonicalData
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == tricky)
        #expect(String(decoding: data, as: UTF8.self).contains(#"\u0007"#))
    }

    @Test("non-finite numbers are written as null")
    func nonFinite() {
        #expect(JSONValue.array([.number(.infinity), .number(.nan)]).canonicalData == Data("[null,null]".utf8))
    }

    @Test("accessors return the payload of the matching case only")
    func accessors() {
        let value: JSONValue = ["s": "x", "i": 3, "a": [1]]
        #expect(value["s"]?.stringValue == "x")
        #expect(value["i"]?.integerValue == 3)
        #expect(value["a"]?.arrayValue == [1])
        #expect(value["s"]?.integerValue == nil)
        #expect(JSONValue.string("x")["s"] == nil)
    }

    @Test(
        "well-formed text parses to the expected tree",
        arguments: [
            (
                #"{"a": [1, -2.5e2, true, null, "x"]}"#,
                JSONValue.object(["a": .array([.integer(1), .integer(-250), .bool(true), .null, .string("x")])])
            ),
            (#" "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \n" "#, .string("café 😀 \"q\" \\ / \n")),
            ("0", .integer(0)),
            ("[]", .array([])),
            ("{}", .object([:])),
        ]
    )
    func parses(text: String, expected: JSONValue) throws {
        #expect(try JSONParser.parse(Data(text.utf8)) == expected)
    }

    @Test("canonical data sorts keys, escapes what JSON requires, and parses back to the same value")
    func canonicalRoundTrip() throws {
        let value = JSONValue.object([
            "b": .string("line\nbreak \"quoted\" \u{1} tab\t é \u{8}\u{c}\u{1f}"),
            "a": .array([.integer(15), .number(2.5), .bool(false), .null]),
            "B": .object([:]),
        ])
        let data = value.canonicalData
        #expect(
            String(decoding: data, as: UTF8.self)
                == #"{"B":{},"a":[15,2.5,false,null],"b":"line\nbreak \"quoted\" \u0001 tab\t é \b\f\u001f"}"#
        )
        #expect(try JSONParser.parse(data) == value)
    }

    @Test("object members sort by UTF-8 bytes, not by String order")
    func memberOrder() {
        // "\u{FF61}" sorts after "\u{10000}" in UTF-16 but before it in UTF-8 (EF BD A1 < F0 90 80 80).
        let value: JSONValue = ["\u{10000}": 1, "\u{FF61}": 2, "Z": 3, "a": 4, "é": 6]
        #expect(
            String(decoding: value.canonicalData, as: UTF8.self)
                == "{\"Z\":3,\"a\":4,\"é\":6,\"\u{FF61}\":2,\"\u{10000}\":1}"
        )
    }

    @Test("integers are written exactly at the extremes")
    func integers() {
        let value: JSONValue = [.integer(.min), .integer(.max), 0, -1, 10, 1_000_000]
        #expect(value.canonicalData == Data("[-9223372036854775808,9223372036854775807,0,-1,10,1000000]".utf8))
    }
}
