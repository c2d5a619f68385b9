import CharterCore

/// Random settings and subsettings over a ``RandomDirectory``, drawn from a seeded ``SplitMix64``.
enum RandomPolicy {
    static func settings(using random: inout SplitMix64) -> Settings {
        var settings = Settings()
        settings.runAsAdmin.mode = AuthorizationMode.allCases.randomElement(using: &random)!
        settings.adminSession.mode = AuthorizationMode.allCases.randomElement(using: &random)!
        settings.endpoint.fallbackPollIntervalSeconds = Int.random(in: 30...600, using: &random)
        return settings
    }

    static func overrides(using random: inout SplitMix64) -> SettingsOverrides {
        var overrides = SettingsOverrides()
        if Bool.random(using: &random) {
            overrides.runAsAdmin = .init(mode: AuthorizationMode.allCases.randomElement(using: &random)!)
        }
        if Bool.random(using: &random) {
            overrides.adminSession = .init(
                mode: AuthorizationMode.allCases.randomElement(using: &random)!,
                workstationDurationMinutes: Int.random(in: 1...60, using: &random)
            )
        }
        if Int.random(in: 0..<4, using: &random) == 0 {
            overrides.endpoint = .init(offlineGracePeriodHours: Int.random(in: 0...100, using: &random))
        }
        return overrides
    }

    static func subsetting(
        number: Int,
        in directory: RandomDirectory,
        using random: inout SplitMix64
    ) -> Subsetting {
        var scope = Subsetting.Scope()
        for _ in 0..<Int.random(in: 0...2, using: &random) {
            scope.groups.insert(directory.groups.randomElement(using: &random)!)
        }
        if scope.groups.isEmpty || Int.random(in: 0..<3, using: &random) == 0 {
            scope.organizationalUnits.insert(directory.ous.randomElement(using: &random)!)
        }
        return Subsetting(
            id: .numbered(number),
            name: "subsetting \(number)",
            isEnabled: Int.random(in: 0..<5, using: &random) > 0,
            target: Bool.random(using: &random) ? .user : .computer,
            scope: scope,
            overrides: overrides(using: &random)
        )
    }

    static func subsettings(count: Int, in directory: RandomDirectory, using random: inout SplitMix64) -> [Subsetting] {
        (0..<count).map { subsetting(number: $0 + 1, in: directory, using: &random) }
    }

    /// The resolution rule written the obvious way: walk the list, test each enabled subsetting's scope.
    static func naiveResolve(
        user: ObjectGUID?,
        computer: ObjectGUID?,
        global: Settings,
        subsettings: [Subsetting],
        facts: DirectoryFacts
    ) -> EffectivePolicy {
        for subsetting in subsettings where subsetting.isEnabled {
            guard let object = subsetting.target == .user ? user : computer else { continue }
            if isInScope(object, subsetting.scope, facts) {
                return EffectivePolicy(
                    settings: global.applying(subsetting.overrides),
                    source: .subsetting(id: subsetting.id, name: subsetting.name)
                )
            }
        }
        return EffectivePolicy(settings: global, source: .global)
    }

    static func isInScope(_ object: ObjectGUID, _ scope: Subsetting.Scope, _ facts: DirectoryFacts) -> Bool {
        facts.groups(of: object).contains { scope.groups.contains($0.group) }
            || facts.ouAncestry(of: object).contains { scope.organizationalUnits.contains($0) }
    }
}
