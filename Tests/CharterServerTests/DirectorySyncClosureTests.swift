import CharterCore
import CharterStore
import Foundation
import Testing

/// The closure rows a sync writes after a change are computed on the part of the graph the change reaches; they
/// must be exactly the rows a closure of the whole graph gives.
@Suite("Directory sync closure updates")
struct DirectorySyncClosureTests {
    /// Groups nested up to a few levels with cycles, users in a few groups each, some primary groups.
    static func graph(seed: UInt64, groups: Int = 40, users: Int = 120) -> (MembershipGraph, [ObjectGUID]) {
        var random = SplitMix64(state: seed)
        func guid() -> ObjectGUID {
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &random) }
            return ObjectGUID(UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6],
                bytes[7], bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15])))
        }
        let groupGUIDs = (0..<groups).map { _ in guid() }
        let userGUIDs = (0..<users).map { _ in guid() }
        var graph = MembershipGraph()
        for (index, group) in groupGUIDs.enumerated() where index > 0 {
            graph.members[groupGUIDs[Int.random(in: 0..<index, using: &random)], default: []].insert(group)
            if Int.random(in: 0..<6, using: &random) == 0 {
                // A back edge: a cycle, or a second parent.
                graph.members[group, default: []].insert(groupGUIDs[Int.random(in: 0..<groups, using: &random)])
            }
        }
        for user in userGUIDs {
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                graph.members[groupGUIDs.randomElement(using: &random)!, default: []].insert(user)
            }
            if Int.random(in: 0..<3, using: &random) == 0 {
                graph.primaryGroups[user] = groupGUIDs.randomElement(using: &random)
            }
        }
        for key in graph.members.keys where graph.members[key]?.isEmpty == true { graph.members[key] = nil }
        return (graph, groupGUIDs + userGUIDs)
    }

    @Test("the rows of any set of objects equal the whole closure's rows of those objects", arguments: 0..<25)
    func subgraphRowsEqualWholeClosure(seed: UInt64) {
        let (graph, objects) = Self.graph(seed: seed)
        var random = SplitMix64(state: seed &+ 1_000)
        let whole = graph.closure().rows
        for size in [1, 5, 30] {
            let chosen = Set((0..<size).map { _ in objects.randomElement(using: &random)! })
            let expected = Set(whole.filter { chosen.contains($0.member) })
            #expect(Set(graph.closureRows(of: chosen)) == expected, "seed \(seed), \(size) objects")
        }
    }

    @Test("after random changes, rewriting the affected objects' rows gives the whole new closure", arguments: 0..<25)
    func affectedRowsUpdateTheClosure(seed: UInt64) {
        let (before, objects) = Self.graph(seed: seed)
        var random = SplitMix64(state: seed &+ 2_000)
        var after = before
        let groups = Array(before.members.keys).sorted()
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0..<5, using: &random) {
            case 0:  // a member added
                after.members[groups.randomElement(using: &random)!, default: []]
                    .insert(objects.randomElement(using: &random)!)
            case 1:  // a member removed
                let group = groups.randomElement(using: &random)!
                if let member = after.members[group]?.randomElement(using: &random) {
                    after.members[group]?.remove(member)
                }
            case 2:  // a group deleted, with its edges
                let group = groups.randomElement(using: &random)!
                after.members[group] = nil
                for key in after.members.keys { after.members[key]?.remove(group) }
            case 3:  // a primary group changed
                after.primaryGroups[objects.randomElement(using: &random)!] = groups.randomElement(using: &random)
            default:  // a primary group dropped
                if let object = after.primaryGroups.keys.randomElement(using: &random) {
                    after.primaryGroups[object] = nil
                }
            }
        }
        for key in after.members.keys where after.members[key]?.isEmpty == true { after.members[key] = nil }

        let affected = before.objectsAffected(comparedTo: after)
        var rows = Set(before.closure().rows)
        let old = Set(before.closureRows(of: affected))
        let new = Set(after.closureRows(of: affected))
        rows.subtract(old.subtracting(new))
        rows.formUnion(new.subtracting(old))
        #expect(rows == Set(after.closure().rows), "seed \(seed)")
    }
}
