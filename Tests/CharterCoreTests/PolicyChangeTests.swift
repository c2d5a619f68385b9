import CharterCore
import Testing

@Suite("Policy change detection")
struct PolicyChangeTests {
    enum Mutation: String, CaseIterable, CustomTestStringConvertible {
        case nothing, global, overrides, scope, toggle, rename, add, remove, move, membership, ouMove, mixed
        var testDescription: String { rawValue }
    }

    struct Scenario {
        var directory: RandomDirectory
        var before: PolicyInputs
        var devices: [ManagedDevice<Int>]
    }

    static func scenario(seed: UInt64, random: inout SplitMix64) -> Scenario {
        let directory = RandomDirectory(
            seed: seed, groupCount: 50, ouCount: 10, userCount: 70, computerCount: 40, nestingEdges: 70,
            membershipsPerObject: 0...2
        )
        let inputs = PolicyInputs(
            global: RandomPolicy.settings(using: &random),
            subsettings: RandomPolicy.subsettings(count: 12, in: directory, using: &random),
            facts: DirectoryFacts(graph: directory.graph)
        )
        let devices = directory.computers.enumerated().map { number, computer in
            ManagedDevice(
                id: number,
                computer: computer,
                users: (0..<Int.random(in: 0...3, using: &random)).map { _ in
                    directory.users.randomElement(using: &random)!
                }
            )
        }
        return Scenario(directory: directory, before: inputs, devices: devices)
    }

    static func mutate(_ scenario: Scenario, _ mutation: Mutation, random: inout SplitMix64) -> PolicyInputs {
        var after = scenario.before
        var subsettings = after.subsettings
        let index = Int.random(in: 0..<subsettings.count, using: &random)
        switch mutation {
        case .nothing:
            break
        case .global:
            after.global.runAsAdmin.mode = after.global.runAsAdmin.mode == .disabled ? .auditOnly : .disabled
        case .overrides:
            subsettings[index].overrides = RandomPolicy.overrides(using: &random)
        case .scope:
            subsettings[index].scope = RandomPolicy.subsetting(number: 99, in: scenario.directory, using: &random).scope
        case .toggle:
            subsettings[index].isEnabled.toggle()
        case .rename:
            subsettings[index].name += " (renamed)"
        case .add:
            let added = RandomPolicy.subsetting(number: 1000, in: scenario.directory, using: &random)
            subsettings.insert(added, at: index)
        case .remove:
            subsettings.remove(at: index)
        case .move:
            let moved = subsettings.remove(at: index)
            subsettings.insert(moved, at: Int.random(in: 0...subsettings.count, using: &random))
        case .membership, .ouMove, .mixed:
            var graph = scenario.directory.graph
            if mutation != .ouMove {
                let group = scenario.directory.groups.randomElement(using: &random)!
                let member = (scenario.directory.users + scenario.directory.groups).randomElement(using: &random)!
                if graph.members[group]!.contains(member) {
                    graph.members[group]!.remove(member)
                } else if member != group {
                    graph.members[group]!.insert(member)
                }
            }
            if mutation != .membership {
                let object = (scenario.directory.users + scenario.directory.computers).randomElement(using: &random)!
                graph.parents[object] = scenario.directory.ous.randomElement(using: &random)!
            }
            if mutation == .mixed {
                subsettings.swapAt(index, Int.random(in: 0..<subsettings.count, using: &random))
                subsettings[index].overrides = RandomPolicy.overrides(using: &random)
            }
            after.facts = DirectoryFacts(graph: graph)
        }
        after.subsettings = subsettings
        return after
    }

    /// The answer by brute force: resolve every device before and after and compare.
    static func bruteForce(_ before: PolicyInputs, _ after: PolicyInputs, _ devices: [ManagedDevice<Int>]) -> [Int] {
        let old = PolicyResolver(global: before.global, subsettings: before.subsettings)
        let new = PolicyResolver(global: after.global, subsettings: after.subsettings)
        return devices.filter {
            $0.policies(using: old, in: before.facts) != $0.policies(using: new, in: after.facts)
        }
        .map(\.id)
    }

    @Test("the narrow path reports exactly the devices brute force finds", arguments: Mutation.allCases)
    func narrowEqualsBruteForce(mutation: Mutation) {
        var changedInTotal = 0
        for seed in UInt64(1)...12 {
            var random = SplitMix64(seed: seed &* 7919)
            let scenario = Self.scenario(seed: seed, random: &random)
            let after = Self.mutate(scenario, mutation, random: &random)
            let expected = Self.bruteForce(scenario.before, after, scenario.devices)
            let actual = PolicyChange(before: scenario.before, after: after).changedDevices(among: scenario.devices)
            #expect(actual == expected, "seed \(seed)")
            changedInTotal += expected.count
        }
        if mutation == .nothing {
            #expect(changedInTotal == 0)
        } else {
            #expect(changedInTotal > 0, "the mutation must change some device in some scenario")
        }
    }

    @Test(
        "deciding a global change without the devices agrees with brute force whenever it decides",
        arguments: Mutation.allCases
    )
    func everyDeviceWithoutDevices(mutation: Mutation) {
        var decided = 0
        for seed in UInt64(1)...40 {
            var random = SplitMix64(seed: seed &* 104_729)
            var scenario = Self.scenario(seed: seed, random: &random)
            // Few subsettings, or none: where every policy differs is then common.
            scenario.before.subsettings = Array(scenario.before.subsettings.prefix(1 + Int(seed % 3)))
            var after = Self.mutate(scenario, mutation, random: &random)
            if mutation == .global, seed.isMultiple(of: 4) {
                scenario.before.subsettings = []
                after.subsettings = []
            }
            if mutation == .global, seed.isMultiple(of: 5) { after.global = scenario.before.global }
            // A settings write sees one directory: both sides are resolved over the same facts.
            after.facts = scenario.before.facts
            guard
                let every = PolicyChange.reachesEveryDevice(
                    from: scenario.before.global, to: after.global, before: scenario.before.subsettings,
                    after: after.subsettings
                )
            else { continue }
            decided += 1
            let expected = Self.bruteForce(scenario.before, after, scenario.devices)
            #expect(expected == (every ? scenario.devices.map(\.id) : []), "seed \(seed)")
        }
        // A change of the global settings alone is decided at least where there are no subsettings.
        if mutation == .global || mutation == .nothing { #expect(decided > 0) }
    }

    @Test("a global change no subsetting overrides reaches every device; one every subsetting overrides, not decided")
    func everyDeviceCases() {
        var after = Settings()
        after.runAsAdmin.mode = .disabled
        let overriding = Subsetting(
            id: .numbered(1), name: "overrides it", target: .computer, scope: .init(groups: [ObjectGUID.numbered(9)]),
            overrides: .init(runAsAdmin: .init(mode: .auditOnly))
        )
        #expect(PolicyChange.reachesEveryDevice(from: Settings(), to: after, before: [], after: []) == true)
        #expect(PolicyChange.reachesEveryDevice(from: Settings(), to: Settings(), before: [], after: []) == false)
        // The global policy differs, the subsetting's does not: it depends on which devices it matches.
        #expect(PolicyChange.reachesEveryDevice(from: Settings(), to: after, before: [overriding], after: [overriding]) == nil)
        var disabled = overriding
        disabled.isEnabled = false
        #expect(PolicyChange.reachesEveryDevice(from: Settings(), to: after, before: [disabled], after: [disabled]) == true)
        #expect(PolicyChange.reachesEveryDevice(from: Settings(), to: after, before: [], after: [overriding]) == nil)
    }

    @Test("a change of a subsetting whose scope holds no device's objects reports nothing")
    func unrelatedScope() {
        var random = SplitMix64(seed: 5)
        let scenario = Self.scenario(seed: 5, random: &random)
        var after = scenario.before
        after.subsettings.insert(
            Subsetting(
                id: .numbered(5000), name: "nobody", target: .user,
                scope: .init(groups: [ObjectGUID.numbered(0xDEAD)]),
                overrides: .init(runAsAdmin: .init(mode: .auditOnly))
            ),
            at: 0
        )
        #expect(PolicyChange(before: scenario.before, after: after).changedDevices(among: scenario.devices).isEmpty)
    }

    @Test("a global change reaches every device whose winner does not override the changed section")
    func globalChange() {
        let computer = ObjectGUID.numbered(1)
        let covered = ObjectGUID.numbered(2)
        let ou = ObjectGUID.numbered(3)
        let facts = DirectoryFacts(graph: MembershipGraph(parents: [covered: ou]))
        let subsetting = Subsetting(
            id: .numbered(1), name: "covered", target: .computer, scope: .init(organizationalUnits: [ou]),
            overrides: .init(runAsAdmin: .init(mode: .auditOnly))
        )
        let before = PolicyInputs(global: Settings(), subsettings: [subsetting], facts: facts)
        var after = before
        after.global.runAsAdmin.mode = .disabled
        let devices = [
            ManagedDevice(id: "plain", computer: computer, users: []),
            ManagedDevice(id: "covered", computer: covered, users: []),
        ]
        #expect(PolicyChange(before: before, after: after).changedDevices(among: devices) == ["plain"])
    }
}
