import CharterAgentWire
import CharterConnector
import CharterCore
import CharterDirectory
import CompressNIO
import Foundation
import NIOCore
import Testing

@Suite("Connector pages")
struct ConnectorPageTests {
    static let domainSID = SecurityIdentifier(authority: 5, subAuthorities: [21, 1_004_336_348, 1_177_238_915, 682_003_330])
    static let ouGUID = UUID(uuidString: "51C0E3A2-0B7E-4F1A-9D2B-3C4D5E6F7081")!
    static let userGUID = UUID(uuidString: "8D1F0C1E-2B3A-4C5D-8E9F-A0B1C2D3E4F5")!

    static let user = DirectoryObject(
        guid: userGUID, kind: .user, dn: "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example",
        parentDN: "OU=Staff,DC=corp,DC=example", parentGUID: ouGUID, name: "Ada Lovelace", samAccountName: "ada",
        userPrincipalName: "ada@corp.example", displayName: "Ada Lovelace", sid: domainSID.appending(rid: 1105),
        isDisabled: true, primaryGroupID: 4_294_967_295, usnChanged: 48190
    )
    static let group = DirectoryObject(
        guid: UUID(uuidString: "0B7E0000-1111-2222-3333-444455556666")!, kind: .group,
        dn: "CN=Staff,OU=Staff,DC=corp,DC=example", parentDN: "OU=Staff,DC=corp,DC=example", parentGUID: ouGUID,
        name: "Staff", samAccountName: "staff", sid: domainSID.appending(rid: 1200), groupType: Int32(bitPattern: 0x8000_0002),
        members: [
            ExtendedDN(dn: "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example", guid: userGUID, sid: domainSID.appending(rid: 1105)),
            ExtendedDN(dn: "CN=Outside,DC=other,DC=example"),
        ],
        usnChanged: 48191
    )
    static let ou = DirectoryObject(
        guid: ouGUID, kind: .organizationalUnit, dn: "OU=Staff,DC=corp,DC=example", parentDN: "DC=corp,DC=example",
        name: "Staff", usnChanged: 12
    )
    static let computer = DirectoryObject(
        guid: UUID(uuidString: "C0000000-0000-4000-8000-000000000001")!, kind: .computer,
        dn: "CN=WS-1,OU=Staff,DC=corp,DC=example", parentDN: "OU=Staff,DC=corp,DC=example", name: "WS-1",
        samAccountName: "WS-1$", dnsHostName: "ws-1.corp.example", primaryGroupID: 515, usnChanged: 7
    )

    @Test("a user maps field by field to the wire form")
    func userMapping() {
        let object = DirectoryPageObject(Self.user)
        #expect(object.guid == Self.userGUID)
        #expect(object.kind == "user")
        #expect(object.dn == Self.user.dn)
        #expect(object.parentGUID == Self.ouGUID)
        #expect(object.name == "Ada Lovelace")
        #expect(object.samAccountName == "ada")
        #expect(object.userPrincipalName == "ada@corp.example")
        #expect(object.displayName == "Ada Lovelace")
        #expect(object.sid == "S-1-5-21-1004336348-1177238915-682003330-1105")
        #expect(object.disabled)
        #expect(object.primaryGroupID == 4_294_967_295)
        #expect(object.groupType == nil)
        #expect(object.usnChanged == 48190)
        #expect(object.members == nil)
    }

    @Test("a group keeps its signed groupType and its members, with or without GUID and SID")
    func groupMapping() {
        let object = DirectoryPageObject(Self.group)
        #expect(object.kind == "group")
        #expect(object.groupType == -2_147_483_646)
        #expect(object.disabled == false)
        #expect(
            object.members == [
                DirectoryPageMember(guid: Self.userGUID, dn: "CN=Ada Lovelace,OU=Staff,DC=corp,DC=example", sid: "S-1-5-21-1004336348-1177238915-682003330-1105"),
                DirectoryPageMember(guid: nil, dn: "CN=Outside,DC=other,DC=example", sid: nil),
            ]
        )
    }

    @Test("every kind has the protocol's name", arguments: [
        (ou, "ou"), (computer, "computer"), (group, "group"), (user, "user"),
        (DirectoryObject(guid: UUID(), kind: .domain, dn: "DC=corp,DC=example", parentDN: nil, name: "corp"), "domain"),
    ])
    func kinds(_ object: DirectoryObject, _ kind: String) {
        #expect(DirectoryPageObject(object).kind == kind)
    }

    static let page = DirectoryPage(
        objects: [ou, user, group, computer].map(DirectoryPageObject.init),
        deleted: [UUID(uuidString: "0B7E1111-2222-3333-4444-555566667777")!]
    )

    @Test("a page survives JSON both ways, nulls written out as the protocol shows them")
    func jsonRoundTrip() throws {
        let data = try ConnectorJSON.encode(Self.page)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""dns_host_name":null"#))
        #expect(text.contains(#""members":null"#))
        #expect(text.contains(#""kind":"ou""#))
        #expect(text.contains(#""deleted":["0B7E1111-2222-3333-4444-555566667777"]"#))
        #expect(try ConnectorJSON.decoder().decode(DirectoryPage.self, from: data) == Self.page)
    }

    @Test("a page is gzip, inflates to the same page, and gives the same bytes every time (replays are idempotent)")
    func gzip() throws {
        let body = try Self.page.gzipped()
        #expect(Array(body.readableBytesView.prefix(2)) == [0x1F, 0x8B])
        #expect(try DirectoryPage.decode(gzipped: body) == Self.page)
        #expect(try Self.page.gzipped() == body)
        var inflated = body
        let json = try inflated.decompress(with: .gzip())
        #expect(json.readableBytes == (try ConnectorJSON.encode(Self.page)).count)
    }

    @Test("a page that inflates past the limit is refused (a zip bomb)")
    func inflationLimit() throws {
        let big = DirectoryPage(objects: Array(repeating: DirectoryPageObject(Self.group), count: 500), deleted: [])
        let body = try big.gzipped()
        #expect(body.readableBytes < 20_000)
        #expect(throws: (any Error).self) { try DirectoryPage.decode(gzipped: body, maximumBytes: 64 << 10) }
    }

    @Test("a batch of the reader becomes one page with its tombstones")
    func batch() {
        let objects = [Self.user, Self.group]
        let deleted = [UUID(), UUID()]
        var progress = DirectoryReader.Progress()
        progress.objectsRead = 2
        let page = DirectoryPage(DirectoryReader.Batch(objects: objects, deletedGUIDs: deleted, progress: progress))
        #expect(page.objects == objects.map(DirectoryPageObject.init))
        #expect(page.deleted == deleted)
    }

    /// Strings a directory may hold that a JSON writer must escape, or must leave alone.
    static let awkward = DirectoryPageObject(
        guid: UUID(uuidString: "00000000-0000-0000-0000-0000000000AB")!, kind: "user",
        dn: #"CN=O\"Brien\, Pat,OU=A/B,DC=corp,DC=example"#, parentGUID: nil, name: "tab\tnew\nline\u{1}\u{1F}\u{7F}",
        samAccountName: "Ünïcödé ✓ 𝄞", userPrincipalName: "back\\slash \"quote\"", dnsHostName: "\u{2028}\u{2029}",
        displayName: "\u{8}\u{C}\r", sid: nil, disabled: false, primaryGroupID: 0, groupType: Int64(Int32.min),
        usnChanged: Int64.max, members: []
    )

    @Test("the page writer gives the bytes JSONEncoder gave, so a page reads the same after an update mid-run")
    func writerMatchesEncoder() throws {
        for page in [Self.page, DirectoryPage(objects: [Self.awkward], deleted: []), DirectoryPage(objects: [], deleted: [])] {
            let written = String(decoding: page.jsonBytes(), as: UTF8.self)
            let encoded = String(decoding: try ConnectorJSON.encode(page), as: UTF8.self)
            #expect(written == encoded)
        }
    }
}
