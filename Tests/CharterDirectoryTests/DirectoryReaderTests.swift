import CharterCore
import CharterDirectory
import Foundation
import Testing

@Suite("Directory reader against the Samba DC")
struct DirectoryReaderTests {
    let directory = TestDirectory()

    func reader(_ connection: LDAPConnection, base: String, options: DirectoryReader.Options = .init())
        -> DirectoryReader
    {
        DirectoryReader(connection: connection, baseDN: base, options: options, logger: directory.logger)
    }

    func readFull(_ reader: DirectoryReader) async throws -> (DomainControllerIdentity, [UUID: DirectoryObject]) {
        var objects: [UUID: DirectoryObject] = [:]
        let identity = try await reader.readFull { batch in
            for object in batch.objects { objects[object.guid] = object }
        }
        return (identity, objects)
    }

    @Test("the DC identity names the DC, its invocationId, its USN and the domain SID")
    func identity() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let identity = try await reader(connection, base: directory.baseDN).readIdentity()
        #expect(identity.serviceName.hasPrefix("CN=NTDS Settings,"))
        #expect(identity.highestCommittedUSN > 0)
        #expect(identity.domainSID?.description.hasPrefix("S-1-5-21-") == true)
        #expect(
            try await reader(connection, base: directory.baseDN).readIdentity().invocationID == identity.invocationID)
    }

    @Test("a full read maps nesting, a cycle, primary groups, disabled accounts and unusual names")
    func fullRead() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "full")
        let sub = "OU=\(DistinguishedName.escape("Sales, \"EMEA\" Zoë")),\(ou)"
        try await connection.add(sub, attributes: [("objectClass", ["organizationalUnit"])])
        let comma = try await connection.addUser("Smith, John", in: sub)
        let quote = try await connection.addUser("\"Quoted\" O'Brien + Co", in: ou)
        let accents = try await connection.addUser("Zoë Ångström", in: sub, extra: [("displayName", ["Zoë Å."])])
        let disabled = try await connection.addUser("Disabled User", in: ou, disabled: true)
        let computer = try await connection.addComputer("WS-\(UUID().uuidString.prefix(6))", in: sub)
        let contact = try await connection.addContact("Outside Contact", in: ou)
        let level3 = try await connection.addGroup("Level 3", in: ou, members: [accents])
        let level2 = try await connection.addGroup("Level 2", in: ou, members: [level3, comma])
        let level1 = try await connection.addGroup("Level 1", in: ou, members: [level2])
        let cycleA = try await connection.addGroup("Cycle A", in: ou, members: [quote])
        let cycleB = try await connection.addGroup("Cycle B", in: ou, members: [cycleA])
        try await connection.modify(cycleA, [LDAPModification(.add, "member", [cycleB])])
        let administrator = directory.bindDN
        let mixed = try await connection.addGroup("Mixed", in: ou, members: [contact, administrator, disabled])

        let (identity, objects) = try await readFull(reader(connection, base: ou))
        let byDN = Dictionary(uniqueKeysWithValues: objects.values.map { (try! DistinguishedName($0.dn), $0) })
        func object(_ dn: String) throws -> DirectoryObject { try #require(byDN[try DistinguishedName(dn)]) }

        #expect(objects.values.filter { $0.kind == .user }.count == 4)
        #expect(objects.values.filter { $0.kind == .computer }.count == 1)
        #expect(objects.values.filter { $0.kind == .group }.count == 6)
        #expect(objects.values.filter { $0.kind == .organizationalUnit }.count == 2)
        #expect(try object(comma).name == "Smith, John")
        #expect(try object(comma).parentDN.map { try DistinguishedName($0) } == (try DistinguishedName(sub)))
        #expect(try object(comma).parentGUID == (try object(sub).guid))
        #expect(try object(sub).name == "Sales, \"EMEA\" Zoë")
        #expect(try object(quote).name == "\"Quoted\" O'Brien + Co")
        #expect(try object(accents).displayName == "Zoë Å.")
        #expect(try object(disabled).isDisabled)
        #expect(try !object(accents).isDisabled)
        #expect(try object(computer).kind == .computer)
        #expect(try object(computer).dnsHostName?.hasSuffix(".charter.test") == true)
        #expect(try object(computer).primaryGroupID == 515)
        #expect(try object(comma).userPrincipalName?.hasSuffix("@charter.test") == true)
        #expect(try object(comma).samAccountName != nil)

        // Primary group: Domain Users is the domain SID plus primaryGroupID, in neither member nor memberOf.
        let domainUsers = try #require(
            try await connection.read("CN=Domain Users,CN=Users,\(directory.baseDN)", attributes: ["objectSid"]))
        let domainSID = try #require(identity.domainSID)
        let primary = try #require(try object(comma).primaryGroupSID(domainSID: domainSID))
        #expect(domainUsers.value("objectSid") == primary.bytes)

        // Members carry the GUID (and SID) of each member; those not synced stay as unresolved members.
        #expect(try object(level1).members?.compactMap(\.guid) == [try object(level2).guid])
        #expect(
            Set(try object(cycleA).members?.compactMap(\.guid) ?? []) == [
                try object(quote).guid, try object(cycleB).guid,
            ])
        let mixedMembers = try #require(try object(mixed).members)
        #expect(mixedMembers.count == 3)
        let unresolved = mixedMembers.filter { member in member.guid.map { objects[$0] == nil } ?? true }
        #expect(unresolved.count == 2)
        #expect(
            unresolved.contains {
                $0.sid?.rid == 500 && (try? DistinguishedName($0.dn)) == (try? DistinguishedName(administrator))
            })
        #expect(
            unresolved.contains {
                $0.sid == nil && (try? DistinguishedName($0.dn)) == (try? DistinguishedName(contact))
            })

        // The closure of the read edges equals what the DC computes with LDAP_MATCHING_RULE_IN_CHAIN.
        let closure = Self.transitiveGroups(of: try object(accents).guid, in: objects)
        let inChain = try await connection.searchAll(
            LDAPSearchRequest(
                base: ou, filter: "(member:1.2.840.113556.1.4.1941:=\(LDAPFilter.escape(accents)))",
                attributes: ["objectGUID"]
            ))
        #expect(
            closure == Set(inChain.compactMap { $0.value("objectGUID").flatMap { UUID(activeDirectoryBytes: $0) } }))
        #expect(closure.count == 3)
    }

    /// Groups that `member` is in, directly or through nesting; cycle-safe.
    static func transitiveGroups(of member: UUID, in objects: [UUID: DirectoryObject]) -> Set<UUID> {
        var found: Set<UUID> = []
        var frontier = [member]
        while let current = frontier.popLast() {
            for group in objects.values where group.members?.contains(where: { $0.guid == current }) == true {
                if found.insert(group.guid).inserted { frontier.append(group.guid) }
            }
        }
        return found
    }

    @Test("a full read split in two halves over two connections delivers exactly what one connection delivers")
    func splitRead() async throws {
        let connection = try await directory.connect()
        let second = try await directory.connect()
        defer {
            connection.close()
            second.close()
        }
        let ou = try await directory.makeOU(connection, "split")
        var users: [String] = []
        for index in 0..<40 { users.append(try await connection.addUser("split user \(index)", in: ou)) }
        for index in 0..<4 {
            _ = try await connection.addGroup("split group \(index)", in: ou, members: Array(users[(index * 10)...]))
        }
        // Pages of 7 and ranges of 9 members: both halves take several pages and ranged reads on their own connection.
        let options = DirectoryReader.Options(pageSize: 7, memberRangeSize: 9)
        let one = reader(connection, base: ou, options: options)
        let two = DirectoryReader(
            connection: connection, secondConnection: second, baseDN: ou, options: options, logger: directory.logger
        )
        let searches = try await two.splitSearches(for: try await two.readIdentity())
        #expect(searches.count == 2)
        #expect(searches.map { $0.connection === second } == [false, true])

        var pages = 0
        var progress = DirectoryReader.Progress()
        var split: [UUID: DirectoryObject] = [:]
        var sequence: [[UUID]] = []
        _ = try await two.readFull { batch in
            pages += 1
            progress = batch.progress
            sequence.append(batch.objects.map(\.guid))
            for object in batch.objects {
                #expect(split.updateValue(object, forKey: object.guid) == nil, "\(object.dn) delivered twice")
            }
        }
        let (_, whole) = try await readFull(one)
        #expect(whole.count == 45)
        #expect(split == whole)
        #expect(progress.objectsRead == 45 && progress.pagesRead == pages)

        // The halves' pages come in turn, so a second read of the same directory makes the same pages in the same
        // order (a connector resumes an interrupted upload on that).
        var again: [[UUID]] = []
        _ = try await two.readFull { batch in again.append(batch.objects.map(\.guid)) }
        #expect(again == sequence)
        let lowerHalf = { (page: [UUID]) in page.first.map { $0.uuid.3 <= 0x7f } }
        #expect(sequence.prefix(4).map(lowerHalf) == [true, false, true, false], "the halves' pages alternate")
        #expect(split.values.filter { $0.kind == .group }.map { $0.members?.count ?? 0 }.sorted() == [10, 20, 30, 40])
    }

    @Test("a group of more than 1500 members is read whole through ranged retrieval")
    func rangedMembers() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "ranged")
        var members: [String] = []
        for index in 0..<1600 { members.append(try await connection.addContact("contact \(index)", in: ou)) }
        let group = try await connection.addGroup("Big Group", in: ou, members: members)

        // Samba returns every value when asked for plain `member`, and honours explicit ranges like AD's answers.
        #expect(try await connection.readAllValues(of: group, attribute: "member").count == 1600)
        #expect(try await connection.readAllValues(of: group, attribute: "member", rangeSize: 1500).count == 1600)
        let chunked = try await connection.readAllValues(of: group, attribute: "member", rangeSize: 170)
        #expect(Set(chunked).count == 1600)
        let first = try #require(try await connection.read(group, attributes: ["member;range=0-1499"]))
        #expect(first.range(of: "member")?.high == 1499)

        for rangeSize in [1500, 100] {
            var objects: [UUID: DirectoryObject] = [:]
            _ = try await reader(connection, base: ou, options: .init(pageSize: 500, memberRangeSize: rangeSize))
                .readFull {
                    for object in $0.objects { objects[object.guid] = object }
                }
            let big = try #require(objects.values.first { $0.kind == .group })
            #expect(big.members?.count == 1600)
            #expect(Set(big.members?.compactMap(\.guid) ?? []).count == 1600)
        }
    }

    /// 0: the gap since the watermark is always asked for as a range; 1,000,000: as one equality term per USN
    /// (other tests share the DC, so the gap here is tens to thousands of USNs).
    @Test(
        "an incremental read returns exactly the changed objects and the deletions, and ends where a full read does",
        arguments: [0, 1_000_000]
    )
    func incremental(maximumUSNTerms: Int) async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "incr")
        let ouA = "OU=A,\(ou)"
        let ouB = "OU=B,\(ou)"
        try await connection.add(ouA, attributes: [("objectClass", ["organizationalUnit"])])
        try await connection.add(ouB, attributes: [("objectClass", ["organizationalUnit"])])
        let u1 = try await connection.addUser("u1", in: ouA)
        let u2 = try await connection.addUser("u2", in: ouA)
        let u3 = try await connection.addUser("u3", in: ouA)
        let u4 = try await connection.addUser("u4", in: ouA)
        let stay = try await connection.addUser("stays in B", in: ouB)
        let group = try await connection.addGroup("g", in: ou, members: [u1])
        let doomed = try await connection.addGroup("doomed", in: ou, members: [u1])
        let reader = reader(connection, base: ou, options: .init(maximumUSNTerms: maximumUSNTerms))
        let (identity, before) = try await readFull(reader)
        let watermark = identity.watermark

        let u5 = try await connection.guid(of: try await connection.addUser("u5", in: ouB))
        let u3GUIDNow = try await connection.guid(of: u3)
        let ouBGUID = try await connection.guid(of: ouB)
        try await connection.modify(u2, [LDAPModification(.replace, "displayName", ["Two"])])
        try await connection.rename(u3, newRDN: "CN=u3", newParent: ouB)
        try await connection.rename(ouB, newRDN: "OU=B renamed")
        try await connection.delete(u4)
        try await connection.delete(doomed)
        try await connection.modify(group, [LDAPModification(.add, "member", [u2])])

        var changed: [UUID: DirectoryObject] = [:]
        var deleted: Set<UUID> = []
        var lastProgress = DirectoryReader.Progress()
        let result = try await reader.readIncremental(since: watermark) { batch in
            for object in batch.objects { changed[object.guid] = object }
            deleted.formUnion(batch.deletedGUIDs)
            lastProgress = batch.progress
        }
        guard case .completed(let newIdentity, let progress) = result else {
            Issue.record("expected a completed incremental read, got \(result)")
            return
        }
        #expect(progress == lastProgress)
        #expect(newIdentity.highestCommittedUSN > watermark.usn)
        let expected: Set<UUID> = [
            u5, try await connection.guid(of: u2), u3GUIDNow, ouBGUID, try await connection.guid(of: group),
        ]
        #expect(Set(changed.keys) == expected)
        let u4GUID = try #require(before.values.first { $0.name == "u4" }?.guid)
        let doomedGUID = try #require(before.values.first { $0.name == "doomed" }?.guid)
        #expect(deleted.isSuperset(of: [u4GUID, doomedGUID]))
        #expect(deleted.isDisjoint(with: Set(before.keys).subtracting([u4GUID, doomedGUID])))

        // The moved user keeps its objectGUID; the renamed OU too.
        let u3GUID = try #require(before.values.first { $0.name == "u3" }?.guid)
        #expect(changed[u3GUID]?.parentGUID == before.values.first { $0.name == "B" }?.guid)

        // Applying the delta to the first snapshot gives what a fresh full read gives (placement by parentGUID,
        // since a renamed OU's children change DN without changing uSNChanged).
        var applied = before
        for guid in deleted { applied[guid] = nil }
        for (guid, object) in changed { applied[guid] = object }
        let (_, after) = try await readFull(reader)
        func comparable(_ objects: [UUID: DirectoryObject]) -> [UUID: DirectoryObject] {
            objects.mapValues { object in
                var object = object
                object.dn = ""
                object.parentDN = nil
                object.members = object.members?.map { ExtendedDN(dn: "", guid: $0.guid, sid: $0.sid) }
                return object
            }
        }
        #expect(comparable(applied) == comparable(after))
        #expect(
            after.values.first { $0.name == "stays in B" }.map { try? DistinguishedName($0.dn) }
                == (try DistinguishedName("CN=stays in B,OU=B renamed,\(ou)")))
        _ = stay
    }

    @Test("an incremental read of a part of the directory that did not change delivers nothing and completes")
    func nothingChanged() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let ou = try await directory.makeOU(connection, "still")
        let reader = reader(connection, base: ou)
        // Other tests may change the rest of the DC meanwhile: the USN moves on and their deletions come back as
        // tombstones (the Deleted Objects container is the domain's), but nothing under `ou` changes.
        let watermark = try await reader.readIdentity().watermark
        var objects = 0
        let result = try await reader.readIncremental(since: watermark) { batch in objects += batch.objects.count }
        guard case .completed(let identity, let progress) = result else {
            Issue.record("expected a completed read, got \(result)")
            return
        }
        #expect(objects == 0)
        #expect(progress.objectsRead == 0)
        #expect(identity.highestCommittedUSN >= watermark.usn)
    }

    @Test("a watermark from another DC or invocationId requires a full read and delivers nothing")
    func otherDC() async throws {
        let connection = try await directory.connect()
        defer { connection.close() }
        let reader = reader(connection, base: directory.baseDN)
        let identity = try await reader.readIdentity()
        for watermark in [
            DirectoryWatermark(serviceName: identity.serviceName, invocationID: UUID(), usn: 1),
            DirectoryWatermark(
                serviceName: "CN=NTDS Settings,CN=OTHER,\(directory.baseDN)", invocationID: identity.invocationID,
                usn: 1),
        ] {
            var batches = 0
            let result = try await reader.readIncremental(since: watermark) { _ in batches += 1 }
            guard case .fullSyncRequired = result else {
                Issue.record("expected fullSyncRequired, got \(result)")
                continue
            }
            #expect(batches == 0)
        }
    }
}
