/// Every directory object's transitive groups, each with one shortest chain.
///
/// Computed by ``MembershipGraph/closure()``, persisted by the storage layer as ``rows``
/// (`tenant, member, group, depth, chain`) and rebuilt from them with ``init(rows:)`` so the server does
/// not recompute it.
package struct MembershipClosure: Hashable, Sendable {
    /// One persisted closure row: `member` is a transitive member of `group` through `chain`.
    package struct Row: Hashable, Sendable {
        package let member: ObjectGUID
        package let group: ObjectGUID
        /// Hops from `member` to `group`: 1 for a direct membership; equals `chain.count`.
        package let depth: Int
        /// Group GUIDs from `member`'s direct group to `group`.
        package let chain: [ObjectGUID]

        package init(member: ObjectGUID, group: ObjectGUID, depth: Int, chain: [ObjectGUID]) {
            self.member = member
            self.group = group
            self.depth = depth
            self.chain = chain
        }
    }

    /// Transitive groups per object, sorted by depth then group GUID.
    package let groupsByObject: [ObjectGUID: [GroupMembership]]

    package init(groupsByObject: [ObjectGUID: [GroupMembership]]) {
        self.groupsByObject = groupsByObject
    }

    /// Rebuilds a closure from persisted rows, in any order.
    ///
    /// A row whose chain is empty or does not end in its group is repaired to the direct chain `[group]`,
    /// so a damaged row degrades the explanation, never the membership itself.
    package init(rows: some Sequence<Row>) {
        var groupsByObject: [ObjectGUID: [GroupMembership]] = [:]
        for row in rows {
            let chain = row.chain.last == row.group ? row.chain : [row.group]
            groupsByObject[row.member, default: []].append(GroupMembership(group: row.group, chain: chain))
        }
        for key in groupsByObject.keys {
            groupsByObject[key]?.sort { ($0.depth, $0.group) < ($1.depth, $1.group) }
        }
        self.groupsByObject = groupsByObject
    }

    /// The transitive groups of `object`, sorted by depth then group GUID; empty when it is in none.
    package func groups(of object: ObjectGUID) -> [GroupMembership] {
        groupsByObject[object] ?? []
    }

    /// The closure as rows for persistence, ordered by member then depth then group.
    package var rows: [Row] {
        groupsByObject.keys.sorted().flatMap { member in
            groups(of: member).map { Row(member: member, group: $0.group, depth: $0.depth, chain: $0.chain) }
        }
    }
}
