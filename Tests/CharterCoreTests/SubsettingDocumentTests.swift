import CharterCore
import CharterJSON
import Foundation
import Testing

@Suite("Subsetting document")
struct SubsettingDocumentTests {
    static let group = ObjectGUID.numbered(7)
    static let ou = ObjectGUID.numbered(8)

    static func document(replacing key: String? = nil, with value: String? = nil) -> String {
        var members = [
            "schema_version": "1",
            "name": #""Developers""#,
            "description": #""Developers may install tools""#,
            "enabled": "true",
            "target": #""user""#,
            "scope": #"{"groups": ["\#(group.description.uppercased())"], "ous": ["\#(ou)"]}"#,
            "overrides": #"{"run_as_admin": {"mode": "audit_only"}}"#,
        ]
        if let key { members[key] = value }
        return "{" + members.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    @Test("a subsetting document decodes with its scope, target and override sections")
    func decodes() throws {
        let id = SubsettingID.numbered(1)
        let subsetting = try Subsetting.decode(from: Data(Self.document().utf8), id: id)
        #expect(subsetting.id == id && subsetting.name == "Developers" && subsetting.isEnabled)
        #expect(subsetting.target == .user)
        #expect(subsetting.scope == .init(groups: [Self.group], organizationalUnits: [Self.ou]))
        #expect(subsetting.overrides == SettingsOverrides(runAsAdmin: .init(mode: .auditOnly)))
        #expect(try Subsetting.decode(from: subsetting.json.canonicalData, id: id) == subsetting)
    }

    @Test(
        "problems point into the subsetting document, overrides under /overrides",
        arguments: [
            ("overrides", #"{"run_as_admin": {"mode": "always"}}"#, "/overrides/run_as_admin/mode", "unknown value"),
            ("overrides", #"{"schema_version": 1}"#, "/overrides/schema_version", "unknown field"),
            ("overrides", nil, "/overrides", "required"),
            ("scope", #"{}"#, "/scope", "at least one group or OU"),
            ("scope", #"{"groups": ["not-a-guid"]}"#, "/scope/groups/0", "GUID"),
            ("scope", #"{"ous": ["\#(ou)", "\#(ou)"]}"#, "/scope/ous/1", "duplicate"),
            ("scope", #"{"users": []}"#, "/scope/users", "unknown field"),
            ("target", #""device""#, "/target", "unknown value"),
            ("name", #""   ""#, "/name", "empty"),
            ("enabled", #""no""#, "/enabled", "boolean"),
            ("priority", "3", "/priority", "unknown field"),
        ] as [(String, String?, String, String)]
    )
    func problems(key: String, value: String?, pointer: String, message: String) {
        let issues = SettingsDocumentTests.issues(
            { (data: Data) throws(DocumentError) in try Subsetting.decode(from: data, id: .numbered(1)) },
            Self.document(replacing: key, with: value)
        )
        #expect(issues.contains { $0.pointer.description == pointer && $0.message.contains(message) }, "\(issues)")
    }
}
