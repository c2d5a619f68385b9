package import CharterJSON

/// Where one section of an effective policy came from.
package enum SectionSource: Hashable, Sendable {
    /// No tenant setting, baseline or subsetting sets it: the documented defaults.
    case defaults
    /// The tenant's own global settings set it.
    case tenant
    /// The tenant did not set it; this baseline is the first assigned one whose settings fragment does.
    case baseline(BaselineReference)
    /// `pre_approved_applications`: the tenant's entries (when it set the section) followed by these
    /// baselines' libraries, duplicates dropped.
    case combined(includesTenant: Bool, baselines: [BaselineReference])
    /// The winning subsetting replaced it: the tenant's own (`baseline` is `nil`) or one of a baseline's.
    case subsetting(id: SubsettingID, name: String, baseline: BaselineReference?)
}

/// A tenant's policy with its assigned baselines folded in: the one policy that resolution, bundles, change
/// detection and the explanation use (docs/baselines.md, "Precedence").
///
/// - Global settings, per section: the tenant's, where its own document set the section; otherwise the first
///   assigned baseline (in assignment order) whose fragment sets it; otherwise the defaults.
/// - `pre_approved_applications`: the tenant's entries followed by every assigned baseline's library, in
///   assignment order, duplicates dropped.
/// - Subsettings: the tenant's own, then each baseline's in assignment order (first match wins, so the
///   tenant's win). A baseline subsetting's named scope is resolved against the tenant's directory; what does
///   not resolve is reported in ``unresolved``, and a scope of which nothing resolves matches nobody.
package struct PolicyComposition: Hashable, Sendable {
    /// A baseline subsetting whose scope names something the tenant's directory does not have.
    package struct UnresolvedScope: Hashable, Sendable {
        package var baseline: BaselineReference
        /// The subsetting's position within its baseline.
        package var index: Int
        package var name: String
        /// The entries that found nothing, as written.
        package var groups: [String]
        package var organizationalUnits: [String]
        /// Whether no entry resolved: the subsetting applies to nobody in this tenant.
        package var matchesNobody: Bool

        package init(
            baseline: BaselineReference, index: Int, name: String, groups: [String], organizationalUnits: [String],
            matchesNobody: Bool
        ) {
            self.baseline = baseline
            self.index = index
            self.name = name
            self.groups = groups
            self.organizationalUnits = organizationalUnits
            self.matchesNobody = matchesNobody
        }
    }

    /// A section the tenant sets itself although an assigned baseline sets it too.
    package struct Override: Hashable, Sendable {
        package var section: Settings.Section
        package var tenantValue: JSONValue
        package var baseline: BaselineReference
        package var baselineValue: JSONValue
        /// Whether both say the same; the tenant's still wins, so later changes of the baseline do not reach it.
        package var isEqual: Bool { tenantValue == baselineValue }
    }

    /// The combined global settings.
    package let global: Settings
    /// Where each section of ``global`` came from, in section order.
    package let globalSources: [Settings.Section: SectionSource]
    /// The tenant's subsettings followed by the baselines' (scopes resolved), in priority order.
    package let subsettings: [Subsetting]
    /// The baseline each baseline subsetting of ``subsettings`` comes from.
    package let origins: [SubsettingID: BaselineReference]
    /// Baseline subsettings with scope entries that did not resolve.
    package let unresolved: [UnresolvedScope]
    /// Sections the tenant sets where a baseline sets them too, per baseline in assignment order.
    package let overrides: [Override]

    /// Folds `baselines` (in assignment order) into the tenant's policy.
    ///
    /// - Parameters:
    ///   - settings: The tenant's stored settings (sections it did not set hold their defaults).
    ///   - setSections: The sections the tenant's own document contained; empty when it never saved settings.
    ///   - subsettings: The tenant's subsettings in priority order.
    ///   - baselines: The assigned baselines in assignment order.
    ///   - directory: The tenant's directory, for named scopes; only read when a baseline has subsettings.
    package init(
        settings: Settings, setSections: Set<Settings.Section>, subsettings: [Subsetting], baselines: [Baseline],
        directory: ScopeDirectory
    ) {
        var global = Settings()
        var sources: [Settings.Section: SectionSource] = [:]
        var overrides: [Override] = []
        for section in Settings.Section.allCases where section != .preApprovedApplications {
            let setters = baselines.filter { $0.settings.sections.contains(section) }
            if setSections.contains(section) {
                global = global.applying(Self.section(section, of: settings))
                sources[section] = .tenant
                let tenantValue = settings.json(of: section)
                for baseline in setters {
                    let baselineValue = Settings().applying(baseline.settings).json(of: section)
                    overrides.append(
                        Override(
                            section: section, tenantValue: tenantValue, baseline: baseline.reference,
                            baselineValue: baselineValue
                        )
                    )
                }
            } else if let first = setters.first {
                global = global.applying(Self.section(section, of: Settings().applying(first.settings)))
                sources[section] = .baseline(first.reference)
            } else {
                sources[section] = .defaults
            }
        }
        let includesTenant = setSections.contains(.preApprovedApplications)
        var applications = includesTenant ? settings.preApprovedApplications : []
        var seen = Set(applications)
        var contributors: [BaselineReference] = []
        for baseline in baselines where !baseline.library.isEmpty {
            contributors.append(baseline.reference)
            for entry in baseline.library where seen.insert(entry).inserted {
                applications.append(entry)
            }
        }
        global.preApprovedApplications = applications
        let librarySource: SectionSource =
            if !contributors.isEmpty {
                .combined(includesTenant: includesTenant, baselines: contributors)
            } else {
                includesTenant ? .tenant : .defaults
            }
        sources[.preApprovedApplications] = librarySource

        var combined = subsettings
        var origins: [SubsettingID: BaselineReference] = [:]
        var unresolved: [UnresolvedScope] = []
        if baselines.contains(where: { !$0.subsettings.isEmpty }) {
            let resolver = directory.resolver()
            for baseline in baselines {
                for (index, subsetting) in baseline.subsettings.enumerated() {
                    let resolution = resolver.resolve(subsetting.scope)
                    let id = baseline.subsettingID(at: index)
                    combined.append(
                        Subsetting(
                            id: id, name: subsetting.name, description: subsetting.description,
                            isEnabled: subsetting.isEnabled, target: subsetting.target, scope: resolution.scope,
                            overrides: subsetting.overrides
                        )
                    )
                    origins[id] = baseline.reference
                    if !resolution.unresolvedGroups.isEmpty || !resolution.unresolvedOrganizationalUnits.isEmpty {
                        unresolved.append(
                            UnresolvedScope(
                                baseline: baseline.reference, index: index, name: subsetting.name,
                                groups: resolution.unresolvedGroups.map(\.text),
                                organizationalUnits: resolution.unresolvedOrganizationalUnits.map(\.text),
                                matchesNobody: resolution.matchesNobody
                            )
                        )
                    }
                }
            }
        }
        self.global = global
        self.globalSources = sources
        self.subsettings = combined
        self.origins = origins
        self.unresolved = unresolved
        self.overrides = overrides
    }

    /// One section of `settings` as an override.
    private static func section(_ section: Settings.Section, of settings: Settings) -> SettingsOverrides {
        switch section {
        case .runAsAdmin: SettingsOverrides(runAsAdmin: settings.runAsAdmin)
        case .adminSession: SettingsOverrides(adminSession: settings.adminSession)
        case .approval: SettingsOverrides(approval: settings.approval)
        case .preApprovedApplications: SettingsOverrides(preApprovedApplications: settings.preApprovedApplications)
        case .endpoint: SettingsOverrides(endpoint: settings.endpoint)
        }
    }

    /// The resolver over the combined policy.
    package var resolver: PolicyResolver { PolicyResolver(global: global, subsettings: subsettings) }

    /// Explains the effective policy of `user` on `computer` (either may be `nil`), naming per section
    /// whether a subsetting (the tenant's or a baseline's), the tenant's settings, a baseline or the defaults
    /// decided it.
    package func explain(for user: ObjectGUID?, on computer: ObjectGUID?, in facts: DirectoryFacts)
        -> ComposedExplanation
    {
        let explanation = resolver.explain(for: user, on: computer, in: facts)
        var sections: [(Settings.Section, SectionSource)] = []
        for section in Settings.Section.allCases {
            if let winner = explanation.winner, explanation.overriddenSections.contains(section) {
                sections.append(
                    (section, .subsetting(id: winner.subsettingID, name: winner.name, baseline: origins[winner.subsettingID]))
                )
            } else {
                sections.append((section, globalSources[section] ?? .defaults))
            }
        }
        return ComposedExplanation(
            explanation: explanation, sections: sections, origins: origins, unresolved: unresolved
        )
    }
}

/// A ``PolicyExplanation`` over a composed policy, with where each section came from.
package struct ComposedExplanation: Sendable {
    package let explanation: PolicyExplanation
    /// Every section, in document order, with its source.
    package let sections: [(Settings.Section, SectionSource)]
    /// The baseline of each baseline subsetting (a match whose id is absent is the tenant's own).
    package let origins: [SubsettingID: BaselineReference]
    /// Baseline subsettings whose scopes did not wholly resolve in this tenant.
    package let unresolved: [PolicyComposition.UnresolvedScope]
}
