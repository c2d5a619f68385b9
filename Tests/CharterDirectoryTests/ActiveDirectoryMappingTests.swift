import CharterCore
import CharterDirectory
import Foundation
import Testing

@Suite("Active Directory value decoding")
struct ActiveDirectoryMappingTests {
    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            out.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    @Test(
        "objectGUID bytes read with the first three fields byte-swapped",
        arguments: [
            ("00112233445566778899aabbccddeeff", "33221100-5544-7766-8899-AABBCCDDEEFF"),
            // Samba's Administrator: ldapsearch objectGUID vs the <GUID=…> of the extended DN control.
            ("a36ad911214c1d4899df978ee90e2ed2", "11D96AA3-4C21-481D-99DF-978EE90E2ED2"),
        ]
    )
    func guid(hex: String, uuid: String) throws {
        let decoded = try #require(UUID(activeDirectoryBytes: Self.bytes(hex)))
        #expect(decoded.uuidString == uuid)
        #expect(decoded.activeDirectoryBytes == Self.bytes(hex))
    }

    @Test("a GUID of the wrong length is rejected")
    func guidLength() {
        #expect(UUID(activeDirectoryBytes: [1, 2, 3]) == nil)
    }

    @Test(
        "objectSid decodes to its S-1-… string and back",
        arguments: [
            ("010200000000000520000000200200 00".replacingOccurrences(of: " ", with: ""), "S-1-5-32-544"),
            (
                "010500000000000515000000c7f7fed77c7755c8945ace01f5030000",
                "S-1-5-21-3623811015-3361044348-30300820-1013"
            ),
            ("010100000000000100000000", "S-1-1-0"),
        ]
    )
    func sid(hex: String, string: String) throws {
        let sid = try #require(SecurityIdentifier(bytes: Self.bytes(hex)))
        #expect(sid.description == string)
        #expect(sid.bytes == Self.bytes(hex))
        #expect(SecurityIdentifier(string) == sid)
    }

    @Test("a SID whose length disagrees with its count is rejected; RIDs append to the domain SID")
    func sidShape() throws {
        #expect(SecurityIdentifier(bytes: Self.bytes("0105000000000005150000")) == nil)
        for malformed in ["S-1-x", "S-1", "X-1-5", "S-1--5", "S-1-5-", "S-256-5", "S-1-281474976710656", "S-1-5-4294967296",
            "S-1-5" + String(repeating: "-1", count: 16), "", "S-1-5 "]
        {
            #expect(SecurityIdentifier(malformed) == nil, "\(malformed)")
        }
        #expect(SecurityIdentifier("S-1-5")?.subAuthorities == [])
        #expect(SecurityIdentifier("s-1-5" + String(repeating: "-4294967295", count: 15))?.subAuthorities.count == 15)
        let domain = try #require(SecurityIdentifier("S-1-5-21-1-2-3"))
        #expect(domain.appending(rid: 513).description == "S-1-5-21-1-2-3-513")
        #expect(domain.appending(rid: 513).rid == 513)
    }

    @Test("extended DNs split into GUID, SID and DN; plain DNs pass through")
    func extendedDN() throws {
        let value = ExtendedDN(
            parsing:
                "<GUID=11d96aa3-4c21-481d-99df-978ee90e2ed2>;<SID=S-1-5-21-1-2-3-500>;CN=Administrator,CN=Users,DC=x"
        )
        #expect(value.dn == "CN=Administrator,CN=Users,DC=x")
        #expect(value.guid?.uuidString == "11D96AA3-4C21-481D-99DF-978EE90E2ED2")
        #expect(value.sid?.description == "S-1-5-21-1-2-3-500")
        #expect(ExtendedDN(parsing: "CN=x,DC=y") == ExtendedDN(dn: "CN=x,DC=y"))
        #expect(ExtendedDN(parsing: "<GUID=11D96AA34C21481D99DF978EE90E2ED2>;CN=Zoë").guid == value.guid)
        #expect(ExtendedDN(parsing: "<GUID=11D96AA34C21481D99DF978EE90E2ED2>;CN=Zoë").dn == "CN=Zoë")
        // A malformed GUID or SID is dropped, the DN kept.
        for text in ["<GUID=11d96aa3-4c21-481d-99df-978ee90e2ed>;CN=x", "<GUID=11d96aa3-4c21-481d-99df-978ee90e2ed2a>;CN=x",
            "<GUID=11d96aa3-4c21-481d-99df-978ee90e2eg2>;CN=x"]
        {
            #expect(ExtendedDN(parsing: text) == ExtendedDN(dn: "CN=x"), "\(text)")
        }
        #expect(ExtendedDN(parsing: "<SID=S-1-5-x>;CN=x") == ExtendedDN(dn: "CN=x"))
    }

    @Test("an entry maps to an object: kind, disabled flag, primary group, parent")
    func entryMapping() throws {
        let guid = Self.bytes("00112233445566778899aabbccddeeff")
        let sid = Self.bytes("010500000000000515000000c7f7fed77c7755c8945ace01f5030000")
        let entry = LDAPEntry(
            dn: #"<GUID=33221100-5544-7766-8899-aabbccddeeff>;CN=Smith\, John,OU=Sales,DC=x"#,
            attributes: [
                "objectGUID": [guid], "objectClass": [Array("top".utf8), Array("person".utf8), Array("user".utf8)],
                "objectSid": [sid], "sAMAccountName": [Array("jsmith".utf8)], "userAccountControl": [Array("514".utf8)],
                "primaryGroupID": [Array("513".utf8)], "uSNChanged": [Array("4711".utf8)],
            ]
        )
        let object = try #require(try DirectoryObject(entry: entry))
        #expect(object.kind == .user)
        #expect(object.dn == #"CN=Smith\, John,OU=Sales,DC=x"#)
        #expect(object.parentDN == "OU=Sales,DC=x")
        #expect(object.name == "Smith, John")
        #expect(object.isDisabled)
        #expect(object.primaryGroupID == 513)
        #expect(object.usnChanged == 4711)
        #expect(object.sid?.description == "S-1-5-21-3623811015-3361044348-30300820-1013")
        #expect(object.members == nil)
    }

    @Test("computers are computers although their objectClass includes user; contacts are skipped")
    func kinds() throws {
        let guid = [UInt8](repeating: 7, count: 16)
        func entry(_ classes: [String]) -> LDAPEntry {
            LDAPEntry(
                dn: "CN=x,DC=y", attributes: ["objectGUID": [guid], "objectClass": classes.map { Array($0.utf8) }])
        }
        #expect(try DirectoryObject(entry: entry(["top", "user", "computer"]))?.kind == .computer)
        #expect(try DirectoryObject(entry: entry(["top", "group"]))?.members == [])
        #expect(try DirectoryObject(entry: entry(["top", "person", "contact"])) == nil)
        #expect(throws: ActiveDirectoryError.self) {
            try DirectoryObject(entry: LDAPEntry(dn: "CN=x", attributes: ["objectClass": [Array("user".utf8)]]))
        }
    }

    @Test("users are persons and computers computers by objectCategory; managed service accounts are skipped")
    func categories() throws {
        let guid = [UInt8](repeating: 7, count: 16)
        func entry(_ classes: [String], category: String?) -> LDAPEntry {
            var attributes = ["objectGUID": [guid], "objectClass": classes.map { Array($0.utf8) }]
            if let category { attributes["objectCategory"] = [Array("CN=\(category),CN=Schema,CN=Configuration,DC=y".utf8)] }
            return LDAPEntry(dn: "CN=x,DC=y", attributes: attributes)
        }
        let person = ["top", "person", "organizationalPerson", "user"]
        #expect(try DirectoryObject(entry: entry(person, category: "Person"))?.kind == .user)
        let extended = LDAPEntry(
            dn: "CN=x,DC=y",
            attributes: [
                "objectGUID": [guid], "objectClass": person.map { Array($0.utf8) },
                "objectCategory": [Array("<GUID=bf967aba-0de6-11d0-a285-00aa003049e2>;CN=Person,CN=Schema,DC=y".utf8)],
            ]
        )
        #expect(try DirectoryObject(entry: extended)?.kind == .user)
        #expect(try DirectoryObject(entry: entry(person + ["inetOrgPerson"], category: "Person"))?.kind == .user)
        #expect(try DirectoryObject(entry: entry(person + ["computer"], category: "Computer"))?.kind == .computer)
        #expect(
            try DirectoryObject(
                entry: entry(person + ["computer", "msDS-ManagedServiceAccount"], category: "ms-DS-Managed-Service-Account")
            ) == nil)
        #expect(
            try DirectoryObject(
                entry: entry(person + ["computer", "msDS-GroupManagedServiceAccount"],
                    category: "ms-DS-Group-Managed-Service-Account")) == nil)
        // A server that withholds objectCategory: the classes decide.
        #expect(try DirectoryObject(entry: entry(person, category: nil))?.kind == .user)
        #expect(try DirectoryObject(entry: entry(person + ["computer"], category: nil))?.kind == .computer)
    }

    @Test("a watermark continues only on the same DC with the same invocationId")
    func watermark() {
        let id = UUID()
        let identity = DomainControllerIdentity(
            serviceName: "CN=NTDS Settings,CN=DC1,CN=Servers,DC=x", invocationID: id, highestCommittedUSN: 100,
            defaultNamingContext: "DC=x"
        )
        #expect(
            DirectoryWatermark(serviceName: "cn=ntds settings,cn=dc1,cn=servers,dc=X", invocationID: id, usn: 90)
                .fullSyncReason(on: identity) == nil)
        #expect(
            DirectoryWatermark(serviceName: "CN=NTDS Settings,CN=DC2,CN=Servers,DC=x", invocationID: id, usn: 90)
                .fullSyncReason(on: identity) != nil)
        #expect(
            DirectoryWatermark(serviceName: identity.serviceName, invocationID: UUID(), usn: 90)
                .fullSyncReason(on: identity) != nil)
        #expect(
            DirectoryWatermark(serviceName: identity.serviceName, invocationID: id, usn: 200)
                .fullSyncReason(on: identity) != nil)
    }

    @Test(
        "a ranged attribute reports its values and bounds; `*` marks the last chunk",
        arguments: [("member;range=0-1499", 0, 1499 as Int?), ("Member;Range=1500-*", 1500, nil)]
    )
    func range(name: String, low: Int, high: Int?) throws {
        let entry = LDAPEntry(dn: "CN=g", attributes: [name: [Array("CN=a".utf8)]])
        let range = try #require(entry.range(of: "member"))
        #expect(range.low == low)
        #expect(range.high == high)
        #expect(range.values.count == 1)
        #expect(entry.values("member").isEmpty)
    }

    @Test("changes since a watermark: nothing, one USN, one equality term per USN, or a range past the limit")
    func changedFilter() {
        #expect(DirectoryReader.changedFilter(after: 10, through: 10, maximumTerms: 500) == nil)
        #expect(DirectoryReader.changedFilter(after: 10, through: 9, maximumTerms: 500) == nil)
        #expect(DirectoryReader.changedFilter(after: 10, through: 11, maximumTerms: 500) == "(uSNChanged=11)")
        #expect(
            DirectoryReader.changedFilter(after: 10, through: 13, maximumTerms: 3)
                == "(|(uSNChanged=11)(uSNChanged=12)(uSNChanged=13))")
        #expect(DirectoryReader.changedFilter(after: 10, through: 14, maximumTerms: 3) == "(uSNChanged>=11)")
        #expect(DirectoryReader.changedFilter(after: 10, through: 11, maximumTerms: 0) == "(uSNChanged>=11)")
    }
}
