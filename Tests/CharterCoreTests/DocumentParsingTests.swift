import CharterCore
import CharterJSON
import Foundation
import Testing

@Suite("Document parsing")
struct DocumentParsingTests {
    static func parse(_ text: String) -> Result<JSONValue, DocumentError> {
        Result { () throws(DocumentError) in try JSONValue.parseDocument(Data(text.utf8)) }
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
}
