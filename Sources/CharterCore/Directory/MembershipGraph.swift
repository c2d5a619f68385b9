/// The raw membership facts of one tenant's directory, as synced: direct `member` edges, primary groups
/// and the OU tree.
///
/// ``closure()`` turns the edges into each object's transitive groups, each with one shortest chain.
/// Members may be GUIDs the directory does not otherwise know (foreign security principals, objects
/// outside the synced OUs); they get a closure like any other object.
package struct MembershipGraph: Hashable, Sendable {
    /// Direct members of each group (`member` attribute), keyed by group GUID.
    package var members: [ObjectGUID: Set<ObjectGUID>]
    /// Each object's primary group (`primaryGroupID`, e.g. Domain Users), which appears in neither
    /// `member` nor `memberOf`.
    package var primaryGroups: [ObjectGUID: ObjectGUID]
    /// The OU each object or OU lies directly in, keyed by the object's GUID.
    package var parents: [ObjectGUID: ObjectGUID]

    package init(
        members: [ObjectGUID: Set<ObjectGUID>] = [:],
        primaryGroups: [ObjectGUID: ObjectGUID] = [:],
        parents: [ObjectGUID: ObjectGUID] = [:]
    ) {
        self.members = members
        self.primaryGroups = primaryGroups
        self.parents = parents
    }

    /// Computes every object's transitive groups, cycle-safe, each with one shortest chain.
    ///
    /// Groups are numbered and each group's own closure is found by one breadth-first search over
    /// "member of" edges; an object's closure is then the merge of the closures of its direct groups
    /// (member edges plus primary group), keeping the shortest chain per target group. A group is never
    /// reported as a member of itself, even inside a cycle.
    ///
    /// - Returns: The closure of every group and of every object that appears as a member or has a primary
    ///   group. Objects that appear nowhere simply have no groups (``MembershipClosure/groups(of:)`` is empty).
    package func closure() -> MembershipClosure {
        // Number the groups in GUID order so that every traversal, and so every tie-break, is deterministic.
        var groupSet = Set(members.keys)
        groupSet.formUnion(primaryGroups.values)
        let groups = groupSet.sorted()
        var index: [ObjectGUID: Int32] = [:]
        index.reserveCapacity(groups.count)
        for (position, group) in groups.enumerated() {
            index[group] = Int32(position)
        }

        // Direct groups of every member, ascending by group number.
        var directGroups: [ObjectGUID: [Int32]] = [:]
        for (position, group) in groups.enumerated() {
            guard let groupMembers = members[group] else { continue }
            for member in groupMembers {
                directGroups[member, default: []].append(Int32(position))
            }
        }
        for (object, group) in primaryGroups {
            guard let groupIndex = index[group] else { continue }
            if directGroups[object]?.contains(groupIndex) != true {
                directGroups[object, default: []].append(groupIndex)
                directGroups[object]?.sort()
            }
        }
        let parentsOfGroup: [[Int32]] = groups.map { directGroups[$0] ?? [] }

        let groupClosures = Self.groupClosures(parentsOfGroup: parentsOfGroup)

        var result: [ObjectGUID: [GroupMembership]] = [:]
        result.reserveCapacity(directGroups.count)
        var bestDepth = [Int32](repeating: 0, count: groups.count)
        var bestVia = [Int32](repeating: 0, count: groups.count)
        var bestPosition = [Int32](repeating: 0, count: groups.count)
        var stamp = [Int32](repeating: -1, count: groups.count)
        var touched: [Int32] = []
        for (objectNumber, (object, direct)) in directGroups.enumerated() {
            let mark = Int32(truncatingIfNeeded: objectNumber)
            if let ownIndex = index[object] {
                result[object] = groupClosures[Int(ownIndex)]
                    .map { entry in
                        GroupMembership(group: groups[Int(entry.target)], chain: entry.chain.map { groups[Int($0)] })
                    }
                    .sorted { ($0.depth, $0.group) < ($1.depth, $1.group) }
                continue
            }
            touched.removeAll(keepingCapacity: true)
            func offer(_ target: Int32, depth: Int32, via: Int32, position: Int32) {
                let t = Int(target)
                if stamp[t] != mark {
                    stamp[t] = mark
                    touched.append(target)
                } else if bestDepth[t] <= depth {
                    return
                }
                bestDepth[t] = depth
                bestVia[t] = via
                bestPosition[t] = position
            }
            for group in direct {
                offer(group, depth: 1, via: group, position: -1)
                for (position, entry) in groupClosures[Int(group)].enumerated() {
                    offer(entry.target, depth: Int32(entry.chain.count) + 1, via: group, position: Int32(position))
                }
            }
            var memberships: [GroupMembership] = []
            memberships.reserveCapacity(touched.count)
            for target in touched {
                let t = Int(target)
                let via = Int(bestVia[t])
                var chain = [groups[via]]
                if bestPosition[t] >= 0 {
                    chain.reserveCapacity(Int(bestDepth[t]))
                    for hop in groupClosures[via][Int(bestPosition[t])].chain {
                        chain.append(groups[Int(hop)])
                    }
                }
                memberships.append(GroupMembership(group: groups[t], chain: chain))
            }
            memberships.sort { ($0.depth, $0.group) < ($1.depth, $1.group) }
            result[object] = memberships
        }
        // Groups with no parents still belong in the closure as objects with no groups.
        for group in groups where result[group] == nil {
            result[group] = []
        }
        return MembershipClosure(groupsByObject: result)
    }

    /// One entry of a group's own closure: a target group and the chain (group numbers) leading to it.
    private struct Reach {
        let target: Int32
        let chain: [Int32]
    }

    /// Breadth-first search from every group over "member of" edges.
    ///
    /// The result for group `g` lists every group reachable from `g` (excluding `g`) in breadth-first order,
    /// each with the shortest chain starting at one of `g`'s direct parents.
    private static func groupClosures(parentsOfGroup: [[Int32]]) -> [[Reach]] {
        let count = parentsOfGroup.count
        var previous = [Int32](repeating: -1, count: count)
        var stamp = [Int32](repeating: -1, count: count)
        var queue: [Int32] = []
        queue.reserveCapacity(count)
        var closures: [[Reach]] = []
        closures.reserveCapacity(count)
        for source in 0..<count {
            let mark = Int32(source)
            queue.removeAll(keepingCapacity: true)
            stamp[source] = mark
            for parent in parentsOfGroup[source] where stamp[Int(parent)] != mark {
                stamp[Int(parent)] = mark
                previous[Int(parent)] = -1
                queue.append(parent)
            }
            var head = 0
            while head < queue.count {
                let current = queue[head]
                head += 1
                for parent in parentsOfGroup[Int(current)] where stamp[Int(parent)] != mark {
                    stamp[Int(parent)] = mark
                    previous[Int(parent)] = current
                    queue.append(parent)
                }
            }
            var reaches: [Reach] = []
            reaches.reserveCapacity(queue.count)
            for target in queue {
                var chain: [Int32] = [target]
                var hop = previous[Int(target)]
                while hop >= 0 {
                    chain.append(hop)
                    hop = previous[Int(hop)]
                }
                chain.reverse()
                reaches.append(Reach(target: target, chain: chain))
            }
            closures.append(reaches)
        }
        return closures
    }
}
