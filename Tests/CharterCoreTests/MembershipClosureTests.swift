import CharterCore
import Testing

@Suite("Membership closure")
struct MembershipClosureTests {
    typealias S = SampleDirectory

    @Test(
        "each object gets every transitive group once, with one shortest chain from its direct group",
        arguments: [
            (
                "alice",
                [
                    ("domainUsers", ["domainUsers"]), ("financeAdmins", ["financeAdmins"]),
                    ("finance", ["financeAdmins", "finance"]), ("allStaff", ["financeAdmins", "finance", "allStaff"]),
                ]
            ),
            ("bob", [("helpdesk", ["helpdesk"]), ("domainUsers", ["domainUsers"])]),
            ("carol", [("cycleA", ["cycleA"]), ("domainUsers", ["domainUsers"]), ("cycleB", ["cycleA", "cycleB"])]),
            ("dave", [("domainUsers", ["domainUsers"])]),
            ("itAdmins", [("helpdesk", ["helpdesk"])]),
            ("cycleA", [("cycleB", ["cycleB"])]),
            ("financeAdmins", [("finance", ["finance"]), ("allStaff", ["finance", "allStaff"])]),
            ("ws1", []),
            ("ws2", [("kiosks", ["kiosks"])]),
        ] as [(String, [(String, [String])])]
    )
    func sampleClosure(object: String, expected: [(String, [String])]) {
        let groups = S.facts.groups(of: S.guid(object))
        let actual = Set(groups.map { Pair(group: $0.group, chain: $0.chain) })
        let wanted = Set(expected.map { Pair(group: S.guid($0.0), chain: $0.1.map(S.guid)) })
        #expect(actual == wanted)
        #expect(groups.count == wanted.count, "no group is listed twice")
        #expect(groups.map(\.depth) == groups.map(\.depth).sorted(), "sorted by depth")
    }

    private struct Pair: Hashable {
        let group: ObjectGUID
        let chain: [ObjectGUID]
    }

    @Test(
        "OU ancestry lists the object's OU first, up to the root",
        arguments: [
            ("alice", ["financeOU", "staff", "corp"]),
            ("bob", ["staff", "corp"]),
            ("srv1", ["serversOU", "corp"]),
            ("dave", []),
            ("financeOU", ["staff", "corp"]),
        ]
    )
    func ouAncestry(object: String, expected: [String]) {
        #expect(S.facts.ouAncestry(of: S.guid(object)) == expected.map(S.guid))
    }

    @Test("a looping OU tree stops at the first repeated OU")
    func ouCycle() {
        let a = ObjectGUID.numbered(1)
        let b = ObjectGUID.numbered(2)
        let user = ObjectGUID.numbered(3)
        let facts = DirectoryFacts(graph: MembershipGraph(parents: [user: a, a: b, b: a]))
        #expect(facts.ouAncestry(of: user) == [a, b])
        var walked: [ObjectGUID] = []
        facts.forEachOUAncestor(of: user) { walked.append($0) }
        #expect(Set(walked) == [a, b] && walked.starts(with: [a, b]))
    }

    @Test("primary group membership counts although it is in no member list, and nests further")
    func primaryGroupNests() {
        let domainUsers = ObjectGUID.numbered(1)
        let everyone = ObjectGUID.numbered(2)
        let user = ObjectGUID.numbered(3)
        let closure = MembershipGraph(members: [everyone: [domainUsers]], primaryGroups: [user: domainUsers]).closure()
        #expect(closure.groups(of: user).map(\.chain) == [[domainUsers], [domainUsers, everyone]])
    }

    @Test("closure rows rebuild the same closure", arguments: [1, 2, 3] as [UInt64])
    func rowsRoundTrip(seed: UInt64) {
        let directory = RandomDirectory(
            seed: seed, groupCount: 40, ouCount: 8, userCount: 60, computerCount: 20, nestingEdges: 70,
            membershipsPerObject: 0...3
        )
        let closure = directory.graph.closure()
        let rows = closure.rows
        #expect(rows.allSatisfy { $0.depth == $0.chain.count && $0.chain.last == $0.group })
        let rebuilt = MembershipClosure(rows: rows.shuffled())
        for object in directory.users + directory.computers + directory.groups {
            #expect(rebuilt.groups(of: object) == closure.groups(of: object))
        }
    }

    @Test(
        "on random graphs, memberships and depths equal a naive breadth-first search and chains are real paths",
        arguments: [11, 12, 13, 14, 15, 16] as [UInt64])
    func matchesNaiveSearch(seed: UInt64) {
        let directory = RandomDirectory(
            seed: seed, groupCount: 30, ouCount: 4, userCount: 40, computerCount: 10, nestingEdges: 60,
            membershipsPerObject: 0...3
        )
        let graph = directory.graph
        var directGroups: [ObjectGUID: Set<ObjectGUID>] = [:]
        for (group, members) in graph.members {
            for member in members { directGroups[member, default: []].insert(group) }
        }
        for (object, group) in graph.primaryGroups { directGroups[object, default: []].insert(group) }
        let closure = graph.closure()
        for object in directory.users + directory.computers + directory.groups {
            // Naive: level-by-level search.
            var depth: [ObjectGUID: Int] = [:]
            var frontier = directGroups[object] ?? []
            var level = 1
            while !frontier.isEmpty {
                var next: Set<ObjectGUID> = []
                for group in frontier where depth[group] == nil && group != object {
                    depth[group] = level
                    next.formUnion(directGroups[group] ?? [])
                }
                frontier = next
                level += 1
            }
            let memberships = closure.groups(of: object)
            #expect(Dictionary(uniqueKeysWithValues: memberships.map { ($0.group, $0.depth) }) == depth)
            for membership in memberships {
                #expect(directGroups[object]?.contains(membership.chain[0]) == true)
                for (child, parent) in zip(membership.chain, membership.chain.dropFirst()) {
                    #expect(graph.members[parent]?.contains(child) == true)
                }
                #expect(membership.chain.last == membership.group)
            }
        }
    }

    @Test("the closure is deterministic: the same graph always yields the same chains")
    func deterministic() {
        let make = {
            RandomDirectory(
                seed: 99, groupCount: 50, ouCount: 2, userCount: 50, computerCount: 0, nestingEdges: 150,
                membershipsPerObject: 1...4
            ).graph.closure()
        }
        #expect(make() == make())
    }
}
