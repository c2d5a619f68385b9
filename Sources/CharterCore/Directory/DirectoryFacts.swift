/// What policy resolution needs to know about a tenant's directory: transitive groups and OU placement.
///
/// Build it from the synced graph with ``init(graph:)``, or from the persisted closure rows and the OU
/// parent links with ``init(closureRows:parents:)``.
package struct DirectoryFacts: Hashable, Sendable {
    /// Every object's transitive groups.
    package let closure: MembershipClosure
    /// The OU each object or OU lies directly in.
    package let parents: [ObjectGUID: ObjectGUID]

    package init(closure: MembershipClosure, parents: [ObjectGUID: ObjectGUID]) {
        self.closure = closure
        self.parents = parents
    }

    /// Computes the closure of `graph` and keeps its OU tree.
    package init(graph: MembershipGraph) {
        self.init(closure: graph.closure(), parents: graph.parents)
    }

    /// Rebuilds facts from persisted closure rows and OU parent links, without recomputing the closure.
    package init(closureRows: some Sequence<MembershipClosure.Row>, parents: [ObjectGUID: ObjectGUID]) {
        self.init(closure: MembershipClosure(rows: closureRows), parents: parents)
    }

    /// The transitive groups of `object`, sorted by depth then group GUID.
    package func groups(of object: ObjectGUID) -> [GroupMembership] {
        closure.groups(of: object)
    }

    /// Calls `body` with each OU `object` lies under, nearest first, without allocating.
    ///
    /// In a corrupt tree that loops, OUs of the loop may be passed more than once (the walk is bounded by
    /// the number of parent links), but never an OU that ``ouAncestry(of:)`` would not list.
    package func forEachOUAncestor(of object: ObjectGUID, _ body: (ObjectGUID) -> Void) {
        var current = object
        var remaining = parents.count
        while remaining > 0, let parent = parents[current], parent != object {
            body(parent)
            current = parent
            remaining -= 1
        }
    }

    /// The OUs `object` lies under, nearest first (its own OU, then that OU's parent, up to the root).
    ///
    /// Cycle-safe: a corrupt tree that loops stops at the first repeated OU.
    package func ouAncestry(of object: ObjectGUID) -> [ObjectGUID] {
        var ancestry: [ObjectGUID] = []
        var current = object
        while let parent = parents[current], parent != object, !ancestry.contains(parent) {
            ancestry.append(parent)
            current = parent
        }
        return ancestry
    }
}
