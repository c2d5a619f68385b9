import CharterCore
import Testing

@Suite("Effective policy")
struct PolicyResolutionTests {
    typealias S = SampleDirectory

    static let global = Settings()

    /// The sample tenant's list, in priority order.
    static let subsettings: [Subsetting] = [
        Subsetting(
            id: .numbered(1), name: "Servers lockdown", target: .computer, scope: .init(groups: [S.servers]),
            overrides: .init(runAsAdmin: .init(mode: .disabled))
        ),
        Subsetting(
            id: .numbered(2), name: "Finance", target: .user, scope: .init(organizationalUnits: [S.financeOU]),
            overrides: .init(runAsAdmin: .init(mode: .auditOnly))
        ),
        Subsetting(
            id: .numbered(3), name: "Staff", target: .user, scope: .init(groups: [S.allStaff]),
            overrides: .init(runAsAdmin: .init(mode: .reasonRequired), adminSession: .init(mode: .auditOnly))
        ),
        Subsetting(
            id: .numbered(4), name: "Helpdesk", target: .user, scope: .init(groups: [S.helpdesk, S.itAdmins]),
            overrides: .init(adminSession: .init(mode: .auditOnly))
        ),
        Subsetting(
            id: .numbered(5), name: "Everyone (off)", isEnabled: false, target: .user,
            scope: .init(organizationalUnits: [S.corp]), overrides: .init(runAsAdmin: .init(mode: .auditOnly))
        ),
        Subsetting(
            id: .numbered(6), name: "Workstations", target: .computer,
            scope: .init(organizationalUnits: [S.workstations]),
            overrides: .init(endpoint: .init(offlineGracePeriodHours: 12))
        ),
        Subsetting(
            id: .numbered(7), name: "Cycle", target: .user, scope: .init(groups: [S.cycleB]),
            overrides: .init(runAsAdmin: .init(mode: .reasonRequired))
        ),
    ]

    static let resolver = PolicyResolver(global: global, subsettings: subsettings)

    @Test(
        "the first enabled subsetting whose scope matches wins; user-target tested against the user, computer-target against the computer",
        arguments: [
            ("alice", "ws1", "Finance"),  // Finance (OU) outranks Staff (group) and Workstations
            ("alice", "srv1", "Servers lockdown"),
            ("bob", "ws1", "Helpdesk"),
            ("bob", nil, "Helpdesk"),
            ("carol", nil, "Cycle"),  // through the cycle cycleA → cycleB
            ("carol", "ws2", "Workstations"),
            ("dave", nil, "global"),  // only in Domain Users and disabled scopes
            ("dave", "ws1", "Workstations"),
            (nil, "ws1", "Workstations"),
            (nil, "srv1", "Servers lockdown"),
            (nil, "alice", "global"),  // a user passed as computer matches no computer-target subsetting
            ("ws1", nil, "global"),
            (nil, nil, "global"),
        ] as [(String?, String?, String)]
    )
    func firstMatchWins(user: String?, computer: String?, winner: String) {
        let policy = Self.resolver.resolve(for: user.map(S.guid), on: computer.map(S.guid), in: S.facts)
        switch policy.source {
        case .global:
            #expect(winner == "global")
            #expect(policy.settings == Self.global)
        case .subsetting(let id, let name):
            #expect(name == winner)
            let subsetting = Self.subsettings.first { $0.id == id }
            #expect(policy.settings == Self.global.applying(subsetting?.overrides ?? .init()))
        }
    }

    @Test("the override replaces whole sections and inherits the rest from global")
    func sectionOverride() throws {
        var global = Settings()
        global.adminSession = .init(mode: .disabled, workstationDurationMinutes: 5, serverDurationMinutes: 10)
        global.endpoint = .init(offlineGracePeriodHours: 1)
        let resolver = PolicyResolver(global: global, subsettings: Self.subsettings)
        let policy = resolver.resolve(for: S.bob, on: nil, in: S.facts)
        // Helpdesk overrides admin_session with a section that did not set durations: defaults, not global's.
        #expect(policy.settings.adminSession == .init(mode: .auditOnly))
        #expect(policy.settings.runAsAdmin == global.runAsAdmin)
        #expect(policy.settings.endpoint == global.endpoint)
    }

    @Test("the explanation names the winner, its match, the outranked and disabled matches, and section origins")
    func explanation() throws {
        let explanation = Self.resolver.explain(for: S.alice, on: S.ws1, in: S.facts)
        let winner = try #require(explanation.winner)
        #expect(winner.name == "Finance" && winner.priority == 1)
        #expect(winner.path == .organizationalUnit(object: S.alice, ou: S.financeOU, depth: 1))
        #expect(explanation.outranked.map(\.name) == ["Staff", "Workstations"])
        #expect(
            explanation.outranked[0].path == .group(object: S.alice, chain: [S.financeAdmins, S.finance, S.allStaff]))
        #expect(explanation.outranked[1].path == .organizationalUnit(object: S.ws1, ou: S.workstations, depth: 1))
        #expect(explanation.disabled.map(\.name) == ["Everyone (off)"])
        #expect(explanation.disabled[0].path == .organizationalUnit(object: S.alice, ou: S.corp, depth: 3))
        #expect(explanation.overriddenSections == [.runAsAdmin])
        #expect(explanation.inheritedSections == [.adminSession, .approval, .preApprovedApplications, .endpoint])
        #expect(explanation.policy == Self.resolver.resolve(for: S.alice, on: S.ws1, in: S.facts))
    }

    @Test("a group chain through nested groups is explained from the direct group to the listed one")
    func explanationChain() throws {
        let explanation = Self.resolver.explain(for: S.carol, on: nil, in: S.facts)
        #expect(explanation.winner?.path == .group(object: S.carol, chain: [S.cycleA, S.cycleB]))
        #expect(explanation.winner?.name == "Cycle")
        let global = Self.resolver.explain(for: S.dave, on: nil, in: S.facts)
        #expect(global.winner == nil && global.outranked.isEmpty && global.overriddenSections.isEmpty)
        #expect(global.policy.source == .global)
    }

    // MARK: - Properties over generated directories

    static let seeds: [UInt64] = [101, 202, 303, 404, 505]

    static func scenario(_ seed: UInt64) -> (RandomDirectory, DirectoryFacts, Settings, [Subsetting], SplitMix64) {
        var random = SplitMix64(seed: seed)
        let directory = RandomDirectory(
            seed: seed, groupCount: 60, ouCount: 12, userCount: 80, computerCount: 40, nestingEdges: 90,
            membershipsPerObject: 0...2
        )
        let global = RandomPolicy.settings(using: &random)
        let subsettings = RandomPolicy.subsettings(count: 25, in: directory, using: &random)
        return (directory, DirectoryFacts(graph: directory.graph), global, subsettings, random)
    }

    @Test("the indexed resolver agrees with walking the list for every user and computer", arguments: seeds)
    func agreesWithNaiveWalk(seed: UInt64) {
        let (directory, facts, global, subsettings, _) = Self.scenario(seed)
        let resolver = PolicyResolver(global: global, subsettings: subsettings)
        for user in [nil] + directory.users.map(Optional.some) {
            for computer in [nil] + directory.computers.prefix(10).map(Optional.some) {
                let expected = RandomPolicy.naiveResolve(
                    user: user, computer: computer, global: global, subsettings: subsettings, facts: facts
                )
                #expect(resolver.resolve(for: user, on: computer, in: facts) == expected)
                #expect(resolver.explain(for: user, on: computer, in: facts).policy == expected)
            }
        }
    }

    @Test("reordering subsettings that do not match never changes the result", arguments: seeds)
    func reorderNonMatching(seed: UInt64) {
        var (directory, facts, global, subsettings, random) = Self.scenario(seed)
        let resolver = PolicyResolver(global: global, subsettings: subsettings)
        for user in directory.users.prefix(40) {
            let computer = directory.computers.randomElement(using: &random)
            let matching = subsettings.indices.filter { index in
                let object = subsettings[index].target == .user ? user : computer
                return object.map { RandomPolicy.isInScope($0, subsettings[index].scope, facts) } ?? false
            }
            var others = subsettings.indices.filter { !matching.contains($0) }.map { subsettings[$0] }
            others.shuffle(using: &random)
            // Keep the matching ones at their positions, shuffle everything else around them.
            var reordered: [Subsetting] = []
            for index in subsettings.indices {
                reordered.append(matching.contains(index) ? subsettings[index] : others.removeLast())
            }
            let shuffled = PolicyResolver(global: global, subsettings: reordered)
            #expect(
                shuffled.resolve(for: user, on: computer, in: facts)
                    == resolver.resolve(for: user, on: computer, in: facts)
            )
        }
    }

    @Test("disabling the winner hands the policy to the next matching subsetting", arguments: seeds)
    func disablingWinner(seed: UInt64) throws {
        let (directory, facts, global, subsettings, _) = Self.scenario(seed)
        let resolver = PolicyResolver(global: global, subsettings: subsettings)
        var checked = 0
        for user in directory.users {
            let explanation = resolver.explain(for: user, on: nil, in: facts)
            guard let winner = explanation.winner else { continue }
            var edited = subsettings
            edited[winner.priority].isEnabled = false
            let next = PolicyResolver(global: global, subsettings: edited).resolve(for: user, on: nil, in: facts)
            if let runnerUp = explanation.outranked.first {
                #expect(next.source == .subsetting(id: runnerUp.subsettingID, name: runnerUp.name))
            } else {
                #expect(next.source == .global)
            }
            checked += 1
        }
        #expect(checked > 0, "the scenario must exercise at least one winner")
    }

    @Test("a user and computer in no scope get exactly the global settings", arguments: seeds)
    func noScopeGetsGlobal(seed: UInt64) {
        let (_, facts, global, subsettings, _) = Self.scenario(seed)
        let resolver = PolicyResolver(global: global, subsettings: subsettings)
        let stranger = ObjectGUID.numbered(0xABCDEF)
        let policy = resolver.resolve(for: stranger, on: stranger, in: facts)
        #expect(policy == EffectivePolicy(settings: global, source: .global))
    }
}
