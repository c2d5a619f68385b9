import CharterCore
import CharterJSON
import Foundation
import Testing

@Suite("Settings document")
struct SettingsDocumentTests {
    static let sha = String(repeating: "ab", count: 32)

    static let fullDocument = """
        {
          "schema_version": 1,
          "run_as_admin": {"mode": "reason_required", "pin_overrides_denial": true},
          "admin_session": {"mode": "disabled", "pin_overrides_denial": false,
                            "workstation_duration_minutes": 20, "server_duration_minutes": 45},
          "approval": {"notify_roles": ["approver", "owner"], "notify_emails": ["it@example.com"],
                       "pending_lifetime_minutes": 120, "approval_validity_minutes": 30},
          "pre_approved_applications": [
            {"file_name": "setup.exe", "kind": "installer", "applies_to": ["run_as_admin"],
             "protection": {"type": "path", "path": "c:/Program Files/Vendor/"}},
            {"file_name": "tool.exe", "kind": "application", "applies_to": ["run_as_admin", "admin_session"],
             "log_to_audit": false, "protection": {"type": "checksum", "sha256": "\(sha.uppercased())"}},
            {"file_name": "signed.exe", "kind": "application", "applies_to": ["admin_session"],
             "protection": {"type": "certificate", "subject": "CN=Vendor Ltd", "thumbprint": "\(String(repeating: "0F", count: 20))"}},
            {"file_name": "notepad.exe", "kind": "application", "applies_to": ["run_as_admin"],
             "protection": {"type": "none"}}
          ],
          "endpoint": {"offline_grace_period_hours": 24, "fallback_poll_interval_seconds": 60}
        }
        """

    @Test("a new tenant's defaults require approval for both request kinds and pre-approve nothing")
    func restrictiveDefaults() {
        let settings = Settings()
        #expect(settings.runAsAdmin.mode == .approvalRequired)
        #expect(settings.adminSession.mode == .approvalRequired)
        #expect(!settings.runAsAdmin.allowsPINOverride && !settings.adminSession.allowsPINOverride)
        #expect(settings.preApprovedApplications.isEmpty)
        #expect(settings.adminSession.workstationDurationMinutes == 15)
        #expect(settings.adminSession.serverDurationMinutes == 30)
    }

    @Test("a document with only the schema version decodes to the defaults")
    func minimalDocument() throws {
        #expect(try Settings.decode(from: Data(#"{"schema_version": 1}"#.utf8)) == Settings())
    }

    @Test("every field of a full document is read, with hashes and thumbprints lowercased and paths normalised")
    func fullDocumentDecodes() throws {
        let settings = try Settings.decode(from: Data(Self.fullDocument.utf8))
        #expect(settings.runAsAdmin == .init(mode: .reasonRequired, allowsPINOverride: true))
        #expect(
            settings.adminSession == .init(mode: .disabled, workstationDurationMinutes: 20, serverDurationMinutes: 45))
        #expect(settings.approval.notifyRoles == [.approver, .owner])
        #expect(settings.approval.notifyEmails == ["it@example.com"])
        #expect(settings.approval.pendingLifetimeMinutes == 120)
        #expect(settings.approval.approvalValidityMinutes == 30)
        #expect(settings.endpoint == .init(offlineGracePeriodHours: 24, fallbackPollIntervalSeconds: 60))
        let apps = settings.preApprovedApplications
        try #require(apps.count == 4)
        #expect(apps[0].protection == .path(try #require(WindowsPath(#"C:\Program Files\Vendor"#))))
        #expect(apps[0].kind == .installer && apps[0].logsToAudit)
        #expect(apps[1].protection == .checksum(sha256: Self.sha))
        #expect(apps[1].appliesTo == [.runAsAdmin, .adminSession] && !apps[1].logsToAudit)
        #expect(
            apps[2].protection
                == .certificate(.init(subject: "CN=Vendor Ltd", thumbprint: String(repeating: "0f", count: 20)))
        )
        #expect(apps[3].protection == .none)
    }

    @Test("encoding is canonical: sorted keys, no whitespace, and decoding it gives the same settings")
    func canonicalRoundTrip() throws {
        let settings = try Settings.decode(from: Data(Self.fullDocument.utf8))
        let data = settings.canonicalData
        let text = try #require(String(data: data, encoding: .utf8))
        #expect(text.hasPrefix(#"{"admin_session":{"mode":"disabled","pin_overrides_denial":false,"#))
        #expect(!text.contains(" \"") && !text.contains("\n"))
        #expect(try Settings.decode(from: data) == settings)
        #expect(try Settings.decode(from: data).canonicalData == data)
    }

    @Test(
        "each problem is reported with the JSON pointer of the bad field",
        arguments: [
            (#"{"schema_version": 1, "colour": "red"}"#, "/colour", "unknown field"),
            (#"{"schema_version": 1, "a/b~c": 1}"#, "/a~1b~0c", "unknown field"),
            (#"{}"#, "/schema_version", "required"),
            (#"{"schema_version": 2}"#, "/schema_version", "unsupported"),
            (#"{"schema_version": "1"}"#, "/schema_version", "integer"),
            (#"{"schema_version": 1, "run_as_admin": {"mode": "sometimes"}}"#, "/run_as_admin/mode", "unknown value"),
            (#"{"schema_version": 1, "run_as_admin": {}}"#, "/run_as_admin/mode", "required"),
            (#"{"schema_version": 1, "run_as_admin": []}"#, "/run_as_admin", "object"),
            (
                #"{"schema_version": 1, "run_as_admin": {"mode": "disabled", "pin_overrides_denial": 1}}"#,
                "/run_as_admin/pin_overrides_denial", "boolean"
            ),
            (
                #"{"schema_version": 1, "admin_session": {"mode": "disabled", "workstation_duration_minutes": 0}}"#,
                "/admin_session/workstation_duration_minutes", "between 1 and 1440"
            ),
            (
                #"{"schema_version": 1, "admin_session": {"mode": "disabled", "server_duration_minutes": 15.5}}"#,
                "/admin_session/server_duration_minutes", "integer"
            ),
            (
                #"{"schema_version": 1, "admin_session": {"mode": "disabled", "server_duration_minutes": true}}"#,
                "/admin_session/server_duration_minutes", "integer"
            ),
            (
                #"{"schema_version": 1, "approval": {"notify_roles": ["owner", "auditor"]}}"#,
                "/approval/notify_roles/1", "unknown value"
            ),
            (
                #"{"schema_version": 1, "approval": {"notify_roles": ["owner", "owner"]}}"#,
                "/approval/notify_roles/1", "duplicate"
            ),
            (
                #"{"schema_version": 1, "approval": {"notify_emails": ["it@example"]}}"#,
                "/approval/notify_emails/0", "email"
            ),
            (
                #"{"schema_version": 1, "approval": {"pending_lifetime_minutes": 1}}"#,
                "/approval/pending_lifetime_minutes", "between 5 and 43200"
            ),
            (
                #"{"schema_version": 1, "endpoint": {"fallback_poll_interval_seconds": 5}}"#,
                "/endpoint/fallback_poll_interval_seconds", "between 30 and 86400"
            ),
            (
                #"{"schema_version": 1, "endpoint": {"offline_grace_period_hours": -1}}"#,
                "/endpoint/offline_grace_period_hours", "between 0 and 2160"
            ),
            (#"{"schema_version": 1, "pre_approved_applications": {}}"#, "/pre_approved_applications", "array"),
            (#"not json"#, "", "not valid JSON"),
            (#"[1]"#, "", "object"),
        ]
    )
    func pointedProblems(document: String, pointer: String, message: String) {
        let issues = Self.issues(Settings.decode, document)
        #expect(issues.contains { $0.pointer.description == pointer && $0.message.contains(message) }, "\(issues)")
    }

    static let entry = #"{"file_name": "a.exe", "kind": "application", "applies_to": ["run_as_admin"], "protection": "#

    @Test(
        "pre-approved application problems point into the entry",
        arguments: [
            (#"{"type": "checksum", "sha256": "abc"}"#, "/pre_approved_applications/2/protection/sha256", "SHA-256"),
            (
                #"{"type": "checksum", "sha256": "\#(String(repeating: "g", count: 64))"}"#,
                "/pre_approved_applications/2/protection/sha256", "SHA-256"
            ),
            (#"{"type": "checksum"}"#, "/pre_approved_applications/2/protection/sha256", "required"),
            (
                #"{"type": "checksum", "sha256": "\#(sha)", "path": "C:\\x"}"#,
                "/pre_approved_applications/2/protection/path", "unknown field"
            ),
            (
                #"{"type": "path", "path": "Program Files\\Vendor"}"#,
                "/pre_approved_applications/2/protection/path", "absolute"
            ),
            (#"{"type": "path", "path": "C:Vendor"}"#, "/pre_approved_applications/2/protection/path", "absolute"),
            (
                #"{"type": "path", "path": "C:\\..\\Vendor"}"#, "/pre_approved_applications/2/protection/path",
                "absolute"
            ),
            (#"{"type": "path", "path": "  "}"#, "/pre_approved_applications/2/protection/path", "empty"),
            (
                #"{"type": "certificate", "subject": "CN=X", "thumbprint": "12345"}"#,
                "/pre_approved_applications/2/protection/thumbprint", "thumbprint"
            ),
            (
                #"{"type": "certificate", "thumbprint": "\#(sha)"}"#, "/pre_approved_applications/2/protection",
                "subject, a vendor"
            ),
            (#"{"type": "signature"}"#, "/pre_approved_applications/2/protection/type", "unknown value"),
            (#"{"path": "C:\\x"}"#, "/pre_approved_applications/2/protection/type", "required"),
            (#""none""#, "/pre_approved_applications/2/protection", "object"),
        ]
    )
    func protectionProblems(protection: String, pointer: String, message: String) {
        let document = """
            {"schema_version": 1, "pre_approved_applications": [
              \(Self.entry){"type": "none"}}, \(Self.entry){"type": "none"}}, \(Self.entry)\(protection)}
            ]}
            """
        let issues = Self.issues(Settings.decode, document)
        #expect(issues.contains { $0.pointer.description == pointer && $0.message.contains(message) }, "\(issues)")
        #expect(!issues.contains { $0.pointer.description.hasPrefix("/pre_approved_applications/0") })
    }

    @Test(
        "pre-approved entry fields are checked",
        arguments: [
            (
                #"{"kind": "application", "applies_to": ["run_as_admin"], "protection": {"type": "none"}}"#,
                "/pre_approved_applications/0/file_name", "required"
            ),
            (
                #"{"file_name": "C:\\a.exe", "kind": "application", "applies_to": ["run_as_admin"], "protection": {"type": "none"}}"#,
                "/pre_approved_applications/0/file_name", "file name"
            ),
            (
                #"{"file_name": "a.exe", "kind": "driver", "applies_to": ["run_as_admin"], "protection": {"type": "none"}}"#,
                "/pre_approved_applications/0/kind", "unknown value"
            ),
            (
                #"{"file_name": "a.exe", "kind": "installer", "applies_to": [], "protection": {"type": "none"}}"#,
                "/pre_approved_applications/0/applies_to", "at least one"
            ),
            (
                #"{"file_name": "a.exe", "kind": "installer", "applies_to": ["everything"], "protection": {"type": "none"}}"#,
                "/pre_approved_applications/0/applies_to/0", "unknown value"
            ),
            (
                #"{"file_name": "a.exe", "kind": "installer", "applies_to": ["admin_session"], "protection": {"type": "none"}, "log_to_audit": "yes"}"#,
                "/pre_approved_applications/0/log_to_audit", "boolean"
            ),
        ]
    )
    func entryProblems(entry: String, pointer: String, message: String) {
        let issues = Self.issues(Settings.decode, #"{"schema_version": 1, "pre_approved_applications": [\#(entry)]}"#)
        #expect(issues.contains { $0.pointer.description == pointer && $0.message.contains(message) }, "\(issues)")
    }

    @Test("all problems of a document are reported at once")
    func allProblems() {
        let document = """
            {"schema_version": 1, "extra": true, "run_as_admin": {"mode": "nope"},
             "endpoint": {"offline_grace_period_hours": 99999},
             "pre_approved_applications": [\(Self.entry){"type": "checksum", "sha256": "xyz"}}]}
            """
        let pointers = Set(Self.issues(Settings.decode, document).map(\.pointer.description))
        #expect(
            pointers == [
                "/extra", "/run_as_admin/mode", "/endpoint/offline_grace_period_hours",
                "/pre_approved_applications/0/protection/sha256",
            ]
        )
    }

    @Test("an overrides document reports pointers relative to itself")
    func overridesPointers() throws {
        let issues = Self.issues(SettingsOverrides.decode, #"{"run_as_admin": {"mode": "x"}, "schema_version": 1}"#)
        #expect(Set(issues.map(\.pointer.description)) == ["/run_as_admin/mode", "/schema_version"])
        let overrides = try SettingsOverrides.decode(from: Data(#"{"endpoint": {}}"#.utf8))
        #expect(overrides.sections == [.endpoint])
        #expect(overrides.endpoint == Settings.Endpoint())
    }

    static func issues<T>(_ decode: (Data) throws(DocumentError) -> T, _ document: String) -> [DocumentIssue] {
        do {
            _ = try decode(Data(document.utf8))
            return []
        } catch {
            return error.issues
        }
    }
}
