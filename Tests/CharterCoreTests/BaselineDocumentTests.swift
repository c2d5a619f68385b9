import CharterCore
import CharterJSON
import Foundation
import Testing

@Suite("Baseline document")
struct BaselineDocumentTests {
    static let id = BaselineID(ObjectGUID.numbered(0xa00).rawValue)

    static func document(replacing key: String? = nil, with value: String? = nil) -> String {
        var members = [
            "schema_version": "1",
            "name": #""Standard workstation""#,
            "settings": #"{"run_as_admin": {"mode": "audit_only"}}"#,
            "subsettings": #"""
                [{"name": "Admins", "target": "user",
                  "scope": {"groups": ["Domain Admins", "S-1-5-32-544", "-512"], "ous": ["OU=IT, OU=Corp"]},
                  "overrides": {"admin_session": {"mode": "audit_only"}}}]
                """#,
            "pre_approved_applications": #"""
                [{"file_name": "setup.exe", "kind": "installer", "applies_to": ["run_as_admin"],
                  "protection": {"type": "checksum", "sha256": "\#(String(repeating: "AB", count: 32))"}}]
                """#,
        ]
        if let key { members[key] = value }
        return "{" + members.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
    }

    @Test("a baseline document decodes with its fragment, named scopes and library, and round-trips")
    func decodes() throws {
        let baseline = try Baseline.decode(from: Data(Self.document().utf8), id: Self.id)
        #expect(baseline.name == "Standard workstation" && baseline.description.isEmpty)
        #expect(baseline.settings == SettingsOverrides(runAsAdmin: .init(mode: .auditOnly)))
        let subsetting = try #require(baseline.subsettings.first)
        #expect(subsetting.scope.groups.map(\.kind) == [.name("domain admins"), .sid("S-1-5-32-544"), .relativeID(512)])
        #expect(subsetting.scope.organizationalUnits.map(\.normalized) == ["ou=it,ou=corp"])
        #expect(baseline.library.first?.protection == .checksum(sha256: String(repeating: "ab", count: 32)))
        #expect(try Baseline.decode(from: baseline.json.canonicalData, id: Self.id) == baseline)
        #expect(baseline.subsettingID(at: 0) != baseline.subsettingID(at: 1))
        #expect(baseline.subsettingID(at: 0).rawValue != Self.id.rawValue)
    }

    @Test("the smallest baseline is a schema version and a name")
    func minimal() throws {
        let baseline = try Baseline.decode(from: Data(#"{"schema_version": 1, "name": "Empty"}"#.utf8), id: Self.id)
        #expect(baseline.settings.sections.isEmpty && baseline.subsettings.isEmpty && baseline.library.isEmpty)
    }

    @Test(
        "problems point into the baseline document",
        arguments: [
            ("settings", #"{"pre_approved_applications": []}"#, "/settings/pre_approved_applications", "library"),
            ("settings", #"{"run_as_admin": {"mode": "always"}}"#, "/settings/run_as_admin/mode", "unknown value"),
            ("settings", #"{"schema_version": 1}"#, "/settings/schema_version", "unknown field"),
            ("subsettings", #"[{"name": "x", "target": "user", "scope": {"groups": ["S-1-5"]}, "overrides": {}}]"#,
             "/subsettings/0/scope/groups/0", "SID"),
            ("subsettings", #"[{"name": "x", "target": "user", "scope": {"groups": ["-5x"]}, "overrides": {}}]"#,
             "/subsettings/0/scope/groups/0", "relative identifier"),
            ("subsettings", #"[{"name": "x", "target": "user", "scope": {"groups": ["Staff", "STAFF"]}, "overrides": {}}]"#,
             "/subsettings/0/scope/groups/1", "duplicate"),
            ("subsettings", #"[{"name": "x", "target": "user", "scope": {"ous": ["DC=example,DC=test"]}, "overrides": {}}]"#,
             "/subsettings/0/scope/ous/0", "OU=<name>"),
            ("subsettings", #"[{"name": "x", "target": "user", "scope": {}, "overrides": {}}]"#,
             "/subsettings/0/scope", "at least one"),
            ("subsettings", #"[{"name": "x", "target": "user", "scope": {"groups": ["a"]}}]"#,
             "/subsettings/0/overrides", "required"),
            ("subsettings", #"[{"name": "x", "target": "device", "scope": {"groups": ["a"]}, "overrides": {}}]"#,
             "/subsettings/0/target", "unknown value"),
            ("pre_approved_applications", #"[{"file_name": "a.exe", "kind": "application", "applies_to": ["run_as_admin"], "protection": {"type": "checksum", "sha256": "12"}}]"#,
             "/pre_approved_applications/0/protection/sha256", "SHA-256"),
            ("name", nil, "/name", "required"),
            ("name", #""  ""#, "/name", "empty"),
            ("colour", #""red""#, "/colour", "unknown field"),
        ] as [(String, String?, String, String)]
    )
    func problems(key: String, value: String?, pointer: String, message: String) {
        let issues = SettingsDocumentTests.issues(
            { (data: Data) throws(DocumentError) in try Baseline.decode(from: data, id: Self.id) },
            Self.document(replacing: key, with: value)
        )
        #expect(issues.contains { $0.pointer.description == pointer && $0.message.contains(message) }, "\(issues)")
    }

    @Test("a settings document names the sections it contained")
    func namedSections() throws {
        let (settings, sections) = try Settings.decodeNamingSections(
            from: Data(#"{"schema_version": 1, "endpoint": {}, "run_as_admin": {"mode": "disabled"}}"#.utf8)
        )
        #expect(sections == [.endpoint, .runAsAdmin])
        #expect(settings.runAsAdmin.mode == .disabled)
        #expect(try Settings.decodeNamingSections(from: Data(#"{"schema_version": 1}"#.utf8)).1.isEmpty)
    }
}
