import CharterAgentWire
import CharterCore
import CharterServices
import CharterStore
import CompressNIO
import Foundation
import NIOCore
import Testing

/// What the service accepts of a connector's page (docs/connector-protocol.md, "Upload"): every rule of the page
/// table refused with the JSON pointer of the value, bodies beyond the limits refused whole.
@Suite("Connector pages")
struct ConnectorPageCodecTests {
    static let guid = "8d1f3c1e-5a4b-4c6d-9e8f-0a1b2c3d4e5f"

    /// A page with one user whose members `override` replace.
    static func page(_ override: [String: String] = [:], deleted: String = "[]") -> String {
        var members: [String: String] = [
            "guid": "\"\(guid)\"", "kind": "\"user\"", "dn": "\"CN=Ada,OU=Staff,DC=corp,DC=example\"",
            "parent_guid": "null", "name": "\"Ada\"", "sam_account_name": "\"ada\"", "user_principal_name": "null",
            "dns_host_name": "null", "display_name": "null", "sid": "\"S-1-5-21-1004336348-1177238915-682003330-1105\"",
            "disabled": "false", "primary_group_id": "513", "group_type": "null", "usn_changed": "48190",
            "members": "null",
        ]
        for (key, value) in override { members[key] = value }
        let object = members.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return #"{"objects": [{\#(object)}], "deleted": \#(deleted)}"#
    }

    static func decode(_ text: String) throws(ConnectorRunError) -> ConnectorPageCodec.Decoded {
        try ConnectorPageCodec.decode(ByteBuffer(string: text))
    }

    @Test("a valid page maps to the stored form, the SID canonical, with the SHA-256 of its bytes")
    func valid() throws {
        let decoded = try Self.decode(Self.page(["sid": #""s-1-5-21-1004336348-1177238915-682003330-1105""#]))
        let entry = try #require(decoded.entries.first)
        #expect(entry.guid == ObjectGUID(Self.guid))
        #expect(entry.kind == .user)
        #expect(entry.sid == "S-1-5-21-1004336348-1177238915-682003330-1105")
        #expect(entry.primaryGroupID == 513)
        #expect(entry.members == nil)
        #expect(decoded.deletions.isEmpty)
        #expect(decoded.sha256.count == 32)
    }

    @Test(
        "a value that breaks a rule is refused with its JSON pointer",
        arguments: [
            (["guid": #""8d1f…""#], "/objects/0/guid"),
            (["parent_guid": #""not-a-guid""#], "/objects/0/parent_guid"),
            (["kind": #""printer""#], "/objects/0/kind"),
            (["sid": #""S-1-5-x""#], "/objects/0/sid"),
            (["sid": #""1-5-21""#], "/objects/0/sid"),
            (["dn": #""""#], "/objects/0/dn"),
            (["dn": "\"\(String(repeating: "a", count: 2001))\""], "/objects/0/dn"),
            (["name": "\"\(String(repeating: "n", count: 257))\""], "/objects/0/name"),
            (["name": #""A\u0000B""#], "/objects/0/name"),
            (["display_name": "\"\(String(repeating: "d", count: 1025))\""], "/objects/0/display_name"),
            (["primary_group_id": "4294967296"], "/objects/0/primary_group_id"),
            (["primary_group_id": "-1"], "/objects/0/primary_group_id"),
            (["group_type": "2147483648"], "/objects/0/group_type"),
            (["usn_changed": "-5"], "/objects/0/usn_changed"),
            (["disabled": #""no""#], "/objects/0/disabled"),
            (["members": #"[{"guid": null, "dn": "CN=x", "sid": null}]"#], "/objects/0/members"),
            (["kind": #""group""#, "members": #"[{"guid": null, "dn": "CN=x", "sid": "S-1"}]"#], "/objects/0/members/0/sid"),
            (["kind": #""group""#, "members": #"[{"guid": "zz", "dn": "CN=x", "sid": null}]"#], "/objects/0/members/0/guid"),
            (["tenant_id": #""d5f0…""#], "/objects/0/tenant_id"),
        ] as [([String: String], String)]
    )
    func refused(override: [String: String], field: String) {
        #expect(Self.refusedField(Self.page(override)) == field)
    }

    @Test(
        "a page's structure is checked member by member, with the pointer of the first refusal",
        arguments: [
            (#"{"objects": [], "deleted": [], "tenant_id": "x"}"#, "/tenant_id"),
            (#"{"objects": []}"#, "/deleted"),
            (#"{"objects": {}, "deleted": []}"#, "/objects"),
            (#"{"objects": [[]], "deleted": []}"#, "/objects/0"),
            (#"{"objects": [], "deleted": [7]}"#, "/deleted/0"),
            (#"{"objects": [], "deleted": [], "deleted": []}"#, "/deleted"),
            (#"{"objects": [], "deleted": [], "a/b~c": 1}"#, "/a~1b~0c"),
        ] as [(String, String)]
    )
    func structure(text: String, field: String) {
        #expect(Self.refusedField(text) == field)
    }

    @Test(
        "an object's members are checked by name and type: missing, unknown, repeated, null where required",
        arguments: [
            (ConnectorPageCodecTests.page(["name": "null"]), "/objects/0/name"),
            (ConnectorPageCodecTests.page(["usn_changed": "1.5"]), "/objects/0/usn_changed"),
            (ConnectorPageCodecTests.page(["usn_changed": "\"5\""]), "/objects/0/usn_changed"),
            (ConnectorPageCodecTests.page(["disabled": "0"]), "/objects/0/disabled"),
            (ConnectorPageCodecTests.page(["sam_account_name": "5"]), "/objects/0/sam_account_name"),
            (ConnectorPageCodecTests.page(["guid": "null"]), "/objects/0/guid"),
            (ConnectorPageCodecTests.page(["members": "{}"]), "/objects/0/members"),
            (ConnectorPageCodecTests.page(["kind": #""group""#, "members": #"[{"dn": "CN=x", "role": "admin"}]"#]), "/objects/0/members/0/role"),
            (ConnectorPageCodecTests.page(["kind": #""group""#, "members": #"[{"guid": null}]"#]), "/objects/0/members/0/dn"),
            (ConnectorPageCodecTests.page(["kind": #""group""#, "members": #"[{"dn": "CN=x", "dn": "CN=y"}]"#]), "/objects/0/members/0/dn"),
            (ConnectorPageCodecTests.page().replacingOccurrences(of: #""name": "Ada", "#, with: ""), "/objects/0/name"),
            (ConnectorPageCodecTests.page().replacingOccurrences(of: #""name": "Ada""#, with: #""name": "Ada", "name": "Eve""#), "/objects/0/name"),
        ] as [(String, String)]
    )
    func members(text: String, field: String) {
        #expect(Self.refusedField(text) == field)
    }

    @Test("optional members may be absent or null; a group's member may leave out its GUID and SID")
    func optionalMembers() throws {
        var text = Self.page(["kind": #""group""#, "members": #"[{"dn": "CN=x"}, {"dn": "CN=y", "guid": null, "sid": null}]"#])
        for name in ["parent_guid", "sam_account_name", "user_principal_name", "dns_host_name", "display_name", "group_type"] {
            text = text.replacingOccurrences(of: #""\#(name)": null, "#, with: "")
        }
        let entry = try #require(try Self.decode(text).entries.first)
        #expect(entry.members?.map(\.dn) == ["CN=x", "CN=y"])
        #expect(entry.parentGUID == nil)
        #expect(entry.samAccountName == "ada")
    }

    @Test("the hand-written reading gives what the Decodable form of the page gives")
    func sameAsDecodable() throws {
        let text = Self.page([
            "kind": #""group""#, "parent_guid": #""51c0e3a2-0b7e-4f1a-9d2b-3c4d5e6f7081""#, "display_name": #""Ada \u00e9 \ud834\udd1e""#,
            "group_type": "-2147483646", "primary_group_id": "4294967295", "user_principal_name": #""a\/b\"c""#,
            "members": #"[{"guid": "0B7E0000-1111-2222-3333-444455556666", "dn": "CN=B,DC=x", "sid": "S-1-5-32-544"}, {"dn": "CN=C"}]"#,
        ], deleted: #"["\#(Self.guid)"]"#)
        let decoded = try Self.decode(text)
        let page = try JSONDecoder().decode(DirectoryPage.self, from: Data(text.utf8))
        let object = try #require(page.objects.first)
        let entry = try #require(decoded.entries.first)
        #expect(entry.guid == ObjectGUID(object.guid))
        #expect(entry.parentGUID == object.parentGUID.map(ObjectGUID.init))
        #expect(entry.displayName == object.displayName)
        #expect(entry.userPrincipalName == "a/b\"c")
        #expect(entry.groupType == object.groupType)
        #expect(entry.primaryGroupID == object.primaryGroupID)
        #expect(entry.members?.map(\.guid) == object.members?.map { $0.guid.map(ObjectGUID.init) })
        #expect(entry.members?.map(\.dn) == object.members?.map(\.dn))
        #expect(entry.members?.map(\.sid) == object.members?.map(\.sid))
        #expect(decoded.deletions == page.deleted)
    }

    @Test("a deletion that is not a GUID is refused at its pointer")
    func badDeletion() {
        #expect(Self.refusedField(Self.page(deleted: #"["\#(Self.guid)", "x"]"#)) == "/deleted/1")
    }

    /// The pointer of the `invalid` refusal of a page, or `nil` when it is not refused so.
    static func refusedField(_ text: String) -> String? {
        do {
            _ = try decode(text)
            return nil
        } catch {
            guard case .invalid(_, let field) = error else { return nil }
            return field
        }
    }

    @Test("a body that is not JSON is malformed", arguments: ["", "{", "[1,2]x", "null", "<xml/>"])
    func notJSON(body: String) {
        #expect {
            _ = try Self.decode(body)
        } throws: { error in
            switch error as? ConnectorRunError {
            case .malformed?, .invalid?: true
            default: false
            }
        }
    }

    @Test("more than 2,000 objects and deletions on one page are refused")
    func tooManyItems() throws {
        let deleted = "[" + (0..<2001).map { _ in "\"\(UUID().uuidString)\"" }.joined(separator: ",") + "]"
        #expect(throws: ConnectorRunError.invalid("A page has at most 2000 objects and deletions together.", field: "/objects")) {
            try Self.decode(#"{"objects": [], "deleted": \#(deleted)}"#)
        }
        let fits = "[" + (0..<2000).map { _ in "\"\(UUID().uuidString)\"" }.joined(separator: ",") + "]"
        #expect(try Self.decode(#"{"objects": [], "deleted": \#(fits)}"#).deletions.count == 2000)
    }

    @Test("gzip is decompressed; identity taken as is; the digest is of the decompressed bytes")
    func gzip() throws {
        var plain = ByteBuffer(string: Self.page())
        let compressed = try plain.compress(with: .gzip())
        let inflated = try ConnectorPageCodec.inflate(compressed, isGzip: true)
        #expect(inflated == ByteBuffer(string: Self.page()))
        #expect(try ConnectorPageCodec.decode(inflated).sha256 == (try Self.decode(Self.page())).sha256)
        #expect(try ConnectorPageCodec.inflate(ByteBuffer(string: "abc"), isGzip: false) == ByteBuffer(string: "abc"))
    }

    @Test("a body that is not gzip under Content-Encoding gzip is malformed")
    func notGzip() {
        #expect(throws: ConnectorRunError.malformed("The body is not valid gzip (Content-Encoding: gzip).", field: nil)) {
            try ConnectorPageCodec.inflate(ByteBuffer(string: Self.page()), isGzip: true)
        }
    }

    @Test("a gzip bomb stops at 64 MiB decompressed; more than 8 MiB as sent is refused unread")
    func limits() throws {
        var zeros = ByteBuffer(repeating: UInt8(ascii: " "), count: ConnectorPageCodec.maximumBytes + 4096)
        let bomb = try zeros.compress(with: .gzip())
        #expect(bomb.readableBytes < 1 << 20)
        #expect(throws: ConnectorRunError.tooLarge("A page may have at most 67108864 bytes decompressed.")) {
            try ConnectorPageCodec.inflate(bomb, isGzip: true)
        }
        let big = ByteBuffer(repeating: UInt8(ascii: " "), count: ConnectorPageCodec.maximumSentBytes + 1)
        #expect(throws: ConnectorRunError.tooLarge("A page may have at most 8388608 bytes as sent.")) {
            try ConnectorPageCodec.inflate(big, isGzip: false)
        }
    }
}
