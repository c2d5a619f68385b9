import CharterCore
import Foundation
import Testing

@Suite("Document JSON values")
struct DocumentValueTests {
    static func parse(_ text: String) -> Result<DocumentValue, DocumentError> {
        Result { () throws(DocumentError) in try DocumentValue.parse(Data(text.utf8)) }
    }

    @Test(
        "well-formed text parses to the expected tree",
        arguments: [
            (
                #"{"a": [1, -2.5e2, true, null, "x"]}"#,
                DocumentValue.object(["a": .array([.number(1), .number(-250), .bool(true), .null, .string("x")])])
            ),
            (#" "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \n" "#, .string("café 😀 \"q\" \\ / \n")),
            ("0", .number(0)),
            ("[]", .array([])),
            ("{}", .object([:])),
        ]
    )
    func parses(text: String, expected: DocumentValue) throws {
        #expect(try Self.parse(text).get() == expected)
    }

    @Test(
        "malformed text is rejected with a pointer to where it broke",
        arguments: [
            (#"{"a": 1,}"#, ""), ("[1, 2,]", "/2"), ("01", ""), (#"{"a": "b"#, "/a"), ("\"a\u{01}\"", ""),
            ("NaN", ""), ("{} {}", ""), (#"{"a": {"b": tru}}"#, "/a/b"), (#"["\ud800"]"#, "/0"),
            (#""\x""#, ""), ("1e999", ""), ("", ""), ("-", ""), ("1.", ""),
        ]
    )
    func rejects(text: String, pointer: String) {
        guard case .failure(let error) = Self.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.issues.count == 1)
        #expect(error.issues.first?.pointer.description == pointer)
        #expect(error.issues.first?.message.hasPrefix("not valid JSON") == true)
    }

    @Test("a member repeated within one object is reported at its pointer")
    func duplicateMember() {
        let issues = SettingsDocumentTests.issues(
            Settings.decode,
            #"{"schema_version": 1, "run_as_admin": {"mode": "disabled", "mode": "audit_only"}}"#
        )
        #expect(issues == [DocumentIssue(pointer: "/run_as_admin/mode", message: "duplicate field")])
    }

    @Test("nesting deeper than the limit is rejected")
    func depthLimit() {
        let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        let shallow = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect((try? Self.parse(deep).get()) == nil)
        #expect((try? Self.parse(shallow).get()) != nil)
    }

    @Test("canonical data sorts keys, escapes what JSON requires, and parses back to the same value")
    func canonicalRoundTrip() throws {
        let value = DocumentValue.object([
            "b": .string("line\nbreak \"quoted\" \u{1} tab\t é \u{8}\u{c}\u{1f}"),
            "a": .array([.number(15), .number(2.5), .bool(false), .null]),
            "B": .object([:]),
        ])
        let data = value.canonicalData
        #expect(
            String(decoding: data, as: UTF8.self)
                == #"{"B":{},"a":[15,2.5,false,null],"b":"line\nbreak \"quoted\" \u0001 tab\t é \b\f\u001f"}"#
        )
        #expect(try DocumentValue.parse(data) == value)
    }
}
