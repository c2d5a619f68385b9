import CharterStore
import Testing

@Suite("Audit snapshot JSON")
struct AuditJSONTests {
    /// Snapshots and the canonical text each is stored as.
    static let table: [(snapshot: [String: any Sendable], text: String)] = [
        (["name": "Ann", "enabled": true], #"{"enabled":true,"name":"Ann"}"#),
        (["n": 3, "big": Int64.max, "small": Int32(-2)], #"{"big":9223372036854775807,"n":3,"small":-2}"#),
        (["urls": ["ldap://a/b", "ldap://c"], "empty": [String]()], #"{"empty":[],"urls":["ldap://a/b","ldap://c"]}"#),
        (["app": ["file_name": "Über.exe"] as [String: any Sendable]], #"{"app":{"file_name":"Über.exe"}}"#),
        (["Z": 1, "a": 2, "_": 3, "é": 4], #"{"Z":1,"_":3,"a":2,"é":4}"#),
        (["quote": "a\"b\\c\n\u{1}"], #"{"quote":"a\"b\\c\n\u0001"}"#),
    ]

    @Test("snapshot values are written canonically: members by UTF-8 bytes, integers as digits, no whitespace")
    func canonical() {
        for (snapshot, text) in Self.table {
            #expect(AuditJSON.encode(snapshot) == text)
        }
    }
}
