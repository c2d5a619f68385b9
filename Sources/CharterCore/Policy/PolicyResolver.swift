/// Resolves effective policies for a tenant: global settings plus an ordered list of subsettings.
///
/// The rule: walk the subsettings in list order; the first *enabled* one whose scope matches wins
/// (a user-target subsetting is tested against the user, a computer-target one against the computer);
/// its override sections replace the global ones. No match: the global settings.
///
/// Building the resolver indexes every enabled subsetting by the groups and OUs its scope lists, keeping
/// the lowest list position per group or OU and target, and precomputes each subsetting's merged settings.
/// Resolving then costs one dictionary lookup per transitive group and OU ancestor of the user and the
/// computer, whatever the number of subsettings.
package struct PolicyResolver: Sendable {
    package let global: Settings
    package let subsettings: [Subsetting]

    private let globalPolicy: EffectivePolicy
    private let policies: [EffectivePolicy]
    private let userIndex: ScopeIndex
    private let computerIndex: ScopeIndex

    /// The first list position per listed group and per listed OU, over enabled subsettings of one target.
    private struct ScopeIndex: Sendable {
        var groups: [ObjectGUID: Int] = [:]
        var organizationalUnits: [ObjectGUID: Int] = [:]

        mutating func add(_ scope: Subsetting.Scope, at position: Int) {
            for group in scope.groups where groups[group] == nil {
                groups[group] = position
            }
            for ou in scope.organizationalUnits where organizationalUnits[ou] == nil {
                organizationalUnits[ou] = position
            }
        }

        /// The lowest position of an enabled subsetting whose scope holds `object`, if any.
        func firstMatch(for object: ObjectGUID, in facts: DirectoryFacts) -> Int? {
            var best: Int?
            if !groups.isEmpty {
                for membership in facts.groups(of: object) {
                    if let position = groups[membership.group], position < best ?? .max {
                        best = position
                    }
                }
            }
            if !organizationalUnits.isEmpty {
                facts.forEachOUAncestor(of: object) { ou in
                    if let position = organizationalUnits[ou], position < best ?? .max {
                        best = position
                    }
                }
            }
            return best
        }
    }

    /// Indexes `subsettings`, given in priority order (first wins).
    package init(global: Settings, subsettings: [Subsetting]) {
        self.global = global
        self.subsettings = subsettings
        self.globalPolicy = EffectivePolicy(settings: global, source: .global)
        self.policies = subsettings.map {
            EffectivePolicy(settings: global.applying($0.overrides), source: .subsetting(id: $0.id, name: $0.name))
        }
        var userIndex = ScopeIndex()
        var computerIndex = ScopeIndex()
        for (position, subsetting) in subsettings.enumerated() where subsetting.isEnabled {
            switch subsetting.target {
            case .user: userIndex.add(subsetting.scope, at: position)
            case .computer: computerIndex.add(subsetting.scope, at: position)
            }
        }
        self.userIndex = userIndex
        self.computerIndex = computerIndex
    }

    /// The effective policy for `user` on `computer`.
    ///
    /// Pass `nil` for the user to get the computer's policy alone (which is also the default for an unknown
    /// user on that computer: only computer-target subsettings can match), and `nil` for the computer to get
    /// the user's policy alone.
    package func resolve(for user: ObjectGUID?, on computer: ObjectGUID?, in facts: DirectoryFacts) -> EffectivePolicy {
        let userMatch = user.flatMap { userIndex.firstMatch(for: $0, in: facts) }
        let computerMatch = computer.flatMap { computerIndex.firstMatch(for: $0, in: facts) }
        switch (userMatch, computerMatch) {
        case (nil, nil): return globalPolicy
        case (let position?, nil), (nil, let position?): return policies[position]
        case (let left?, let right?): return policies[min(left, right)]
        }
    }

    /// Explains the effective policy for `user` on `computer` (either may be `nil`, as in
    /// ``resolve(for:on:in:)``): every subsetting whose scope matches, with its shortest group chain or
    /// nearest OU, and which one won.
    ///
    /// This walks every subsetting; use ``resolve(for:on:in:)`` where only the policy is needed.
    package func explain(for user: ObjectGUID?, on computer: ObjectGUID?, in facts: DirectoryFacts) -> PolicyExplanation
    {
        let userFacts = user.map { ObjectPlacement(object: $0, facts: facts) }
        let computerFacts = computer.map { ObjectPlacement(object: $0, facts: facts) }
        var matches: [PolicyExplanation.Match] = []
        for (position, subsetting) in subsettings.enumerated() {
            let placement =
                switch subsetting.target {
                case .user: userFacts
                case .computer: computerFacts
                }
            if let path = placement?.path(into: subsetting.scope) {
                matches.append(PolicyExplanation.Match(subsetting: subsetting, priority: position, path: path))
            }
        }
        let enabled = matches.filter(\.isEnabled)
        let winner = enabled.first
        return PolicyExplanation(
            policy: winner.map { policies[$0.priority] } ?? globalPolicy,
            winner: winner,
            outranked: Array(enabled.dropFirst()),
            disabled: matches.filter { !$0.isEnabled },
            overriddenSections: winner.map { subsettings[$0.priority].overrides.sections } ?? []
        )
    }

    /// One object's groups and OU ancestry, looked up once for explaining.
    private struct ObjectPlacement {
        let object: ObjectGUID
        let groups: [GroupMembership]
        let ancestry: [ObjectGUID]

        init(object: ObjectGUID, facts: DirectoryFacts) {
            self.object = object
            self.groups = facts.groups(of: object)
            self.ancestry = facts.ouAncestry(of: object)
        }

        /// The shortest group chain into `scope`, else the nearest OU of `scope` above the object.
        func path(into scope: Subsetting.Scope) -> PolicyExplanation.MatchPath? {
            if let membership = groups.first(where: { scope.groups.contains($0.group) }) {
                return .group(object: object, chain: membership.chain)
            }
            if let depth = ancestry.firstIndex(where: { scope.organizationalUnits.contains($0) }) {
                return .organizationalUnit(object: object, ou: ancestry[depth], depth: depth + 1)
            }
            return nil
        }
    }
}
