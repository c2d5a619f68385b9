import CharterBundle
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
}
