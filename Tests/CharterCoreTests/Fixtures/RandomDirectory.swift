import CharterCore

/// A generated directory: random nesting (cycles included), primary groups, an OU tree, users and
/// computers, all drawn from a seeded ``SplitMix64``.
struct RandomDirectory {
    var groups: [ObjectGUID] = []
    var ous: [ObjectGUID] = []
    var users: [ObjectGUID] = []
    var computers: [ObjectGUID] = []
    var graph = MembershipGraph()

    init(
        seed: UInt64,
        groupCount: Int,
        ouCount: Int,
        userCount: Int,
        computerCount: Int,
        nestingEdges: Int,
        membershipsPerObject: ClosedRange<Int>
    ) {
        var random = SplitMix64(seed: seed)
        var next = 1
        func make(_ count: Int) -> [ObjectGUID] {
            defer { next += count }
            return (next..<(next + count)).map { ObjectGUID.numbered($0) }
        }
        groups = make(groupCount)
        ous = make(ouCount)
        users = make(userCount)
        computers = make(computerCount)
        for group in groups {
            graph.members[group] = []
        }
        for _ in 0..<nestingEdges {
            let parent = groups.randomElement(using: &random)!
            let child = groups.randomElement(using: &random)!
            if parent != child {
                graph.members[parent]!.insert(child)
            }
        }
        for object in users + computers {
            for _ in 0..<Int.random(in: membershipsPerObject, using: &random) {
                graph.members[groups.randomElement(using: &random)!]!.insert(object)
            }
            if Bool.random(using: &random) {
                graph.parents[object] = ous.randomElement(using: &random)!
            }
        }
        // Some members the directory does not otherwise know.
        for number in 0..<(groupCount / 4) {
            graph.members[groups.randomElement(using: &random)!]!.insert(ObjectGUID.numbered(0xF00000 + number))
        }
        if let primary = groups.first {
            for user in users where Int.random(in: 0..<4, using: &random) > 0 {
                graph.primaryGroups[user] = primary
            }
        }
        for (position, ou) in ous.enumerated() where position > 0 {
            graph.parents[ou] = ous[Int.random(in: 0..<position, using: &random)]
        }
    }
}
