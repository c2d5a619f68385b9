/// Why an effective policy is what it is: the winner, how it matched, what else matched, and which
/// sections came from where.
package struct PolicyExplanation: Hashable, Sendable {
    /// How one object falls into a subsetting's scope.
    package enum MatchPath: Hashable, Sendable {
        /// `object` is a transitive member of the listed group `chain.last` through `chain`
        /// (object → chain[0] → … → listed group).
        case group(object: ObjectGUID, chain: [ObjectGUID])
        /// `object` lies under the listed OU `ou`, `depth` levels down (1: directly in it).
        case organizationalUnit(object: ObjectGUID, ou: ObjectGUID, depth: Int)
    }

    /// One subsetting whose scope matched.
    package struct Match: Hashable, Sendable {
        package let subsettingID: SubsettingID
        package let name: String
        /// Position in the tenant's list, 0 first.
        package let priority: Int
        package let target: Subsetting.Target
        package let isEnabled: Bool
        /// The shortest group chain when one of the listed groups matches, otherwise the nearest listed OU.
        package let path: MatchPath

        package init(subsetting: Subsetting, priority: Int, path: MatchPath) {
            self.subsettingID = subsetting.id
            self.name = subsetting.name
            self.priority = priority
            self.target = subsetting.target
            self.isEnabled = subsetting.isEnabled
            self.path = path
        }
    }

    /// The policy being explained.
    package let policy: EffectivePolicy
    /// The first enabled matching subsetting; `nil` when the global settings apply.
    package let winner: Match?
    /// Enabled subsettings that matched too but come later in the list.
    package let outranked: [Match]
    /// Disabled subsettings whose scope matches; they play no part until enabled.
    package let disabled: [Match]
    /// Sections the winner replaced; empty when the global settings apply.
    package let overriddenSections: [Settings.Section]
    /// Sections taken from the global settings.
    package let inheritedSections: [Settings.Section]

    package init(
        policy: EffectivePolicy,
        winner: Match?,
        outranked: [Match],
        disabled: [Match],
        overriddenSections: [Settings.Section]
    ) {
        self.policy = policy
        self.winner = winner
        self.outranked = outranked
        self.disabled = disabled
        self.overriddenSections = overriddenSections
        self.inheritedSections = Settings.Section.allCases.filter { !overriddenSections.contains($0) }
    }
}
