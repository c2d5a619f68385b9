/// One transitive group of a directory object, with one shortest chain that leads to it.
///
/// The chain lists group GUIDs from the object's direct group to ``group`` itself, so a direct
/// membership has the chain `[group]` and ``depth`` 1. When several chains of the same length exist,
/// the closure picks one deterministically (the one through the smallest GUIDs, in breadth-first order).
package struct GroupMembership: Hashable, Sendable {
    /// The group the object is a transitive member of.
    package let group: ObjectGUID
    /// Group GUIDs from the object's direct group to ``group``; never empty, ends with ``group``.
    package let chain: [ObjectGUID]

    package init(group: ObjectGUID, chain: [ObjectGUID]) {
        self.group = group
        self.chain = chain
    }

    /// The number of membership hops from the object to ``group``: 1 for a direct membership.
    package var depth: Int { chain.count }
}
