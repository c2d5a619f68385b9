package import CharterCore

extension MembershipGraph {
    /// The closure rows of `objects` only, computed on the part of the graph they reach.
    ///
    /// The subgraph holds every group reachable upwards from `objects` (so each keeps all of its parents) and
    /// every object of `objects` that is a group in the whole graph. ``closure()`` numbers groups in GUID order
    /// and explores parents in that order, so on a subgraph with the same relative order and the same parents it
    /// finds the same groups and the same chains: the rows equal the whole closure's rows of `objects`.
    ///
    /// - Parameter objects: the members whose rows are wanted.
    /// - Returns: their rows, in no particular order.
    package func closureRows(of objects: Set<ObjectGUID>) -> [MembershipClosure.Row] {
        guard !objects.isEmpty else { return [] }
        let containing = containingGroups()
        // Everything reachable upwards from `objects`, through member edges and primary groups.
        var reached = Set<ObjectGUID>()
        var queue = Array(objects)
        var head = 0
        while head < queue.count {
            let current = queue[head]
            head += 1
            for group in containing[current] ?? [] where reached.insert(group).inserted {
                queue.append(group)
            }
        }
        let kept = reached.union(objects)
        let primaryTargets = Set(primaryGroups.values)
        var subgraph = MembershipGraph()
        for group in kept where members[group] != nil || primaryTargets.contains(group) {
            // A group of `objects` that nothing contains still needs to be a group here (its own numbering
            // decides how its closure is found); an empty member set makes it one.
            subgraph.members[group] = (members[group] ?? []).intersection(kept)
        }
        for object in kept {
            if let group = primaryGroups[object] { subgraph.primaryGroups[object] = group }
        }
        return subgraph.closure().rows.filter { objects.contains($0.member) }
    }

    /// The objects whose closure rows can differ between `self` and `other`: those whose direct groups differ
    /// (member edges or primary group), and everything below them.
    package func objectsAffected(comparedTo other: MembershipGraph) -> Set<ObjectGUID> {
        var changed = Set<ObjectGUID>()
        for group in Set(members.keys).union(other.members.keys) {
            let before = members[group] ?? []
            let after = other.members[group] ?? []
            if before != after { changed.formUnion(before.symmetricDifference(after)) }
        }
        for object in Set(primaryGroups.keys).union(other.primaryGroups.keys)
        where primaryGroups[object] != other.primaryGroups[object] {
            changed.insert(object)
        }
        guard !changed.isEmpty else { return [] }
        // A changed object's members inherit its groups: walk down through both graphs.
        var affected = changed
        var queue = Array(changed)
        var head = 0
        let membersOfPrimary = primaryMembers().merging(other.primaryMembers()) { $0.union($1) }
        while head < queue.count {
            let current = queue[head]
            head += 1
            let below = (members[current] ?? []).union(other.members[current] ?? [])
                .union(membersOfPrimary[current] ?? [])
            for member in below where affected.insert(member).inserted {
                queue.append(member)
            }
        }
        return affected
    }

    /// The groups each object is directly in: member edges plus its primary group.
    private func containingGroups() -> [ObjectGUID: [ObjectGUID]] {
        var containing: [ObjectGUID: [ObjectGUID]] = [:]
        for (group, groupMembers) in members {
            for member in groupMembers { containing[member, default: []].append(group) }
        }
        for (object, group) in primaryGroups { containing[object, default: []].append(group) }
        return containing
    }

    /// The objects whose primary group each group is.
    private func primaryMembers() -> [ObjectGUID: Set<ObjectGUID>] {
        var result: [ObjectGUID: Set<ObjectGUID>] = [:]
        for (object, group) in primaryGroups { result[group, default: []].insert(object) }
        return result
    }
}
