import Benchmark
import CharterCore
import Foundation

/// Deterministic generator for the benchmark tenants (SplitMix64).
struct Generator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A synthetic tenant: nested groups, an OU tree, users and computers with memberships.
///
/// Nesting is shaped like a real directory: each group has a parent with probability `nestingRate`, drawn
/// from the groups created before it (so depth grows like the logarithm of the group count), plus a few
/// back edges that close cycles.
struct Tenant {
    var groups: [ObjectGUID] = []
    var ous: [ObjectGUID] = []
    var users: [ObjectGUID] = []
    var computers: [ObjectGUID] = []
    var graph = MembershipGraph()

    init(
        seed: UInt64, groups groupCount: Int, nestingRate: Double, cycles: Int, ous ouCount: Int,
        users userCount: Int, computers computerCount: Int, userMemberships: Int, computerMemberships: Int
    ) {
        var random = Generator(state: seed)
        func guid() -> ObjectGUID { ObjectGUID(UUID(uuid: UUID.random(using: &random))) }
        groups = (0..<groupCount).map { _ in guid() }
        ous = (0..<ouCount).map { _ in guid() }
        users = (0..<userCount).map { _ in guid() }
        computers = (0..<computerCount).map { _ in guid() }
        for group in groups { graph.members[group] = [] }
        for child in 1..<groupCount where Double.random(in: 0..<1, using: &random) < nestingRate {
            graph.members[groups[Int.random(in: 0..<child, using: &random)]]!.insert(groups[child])
        }
        for _ in 0..<cycles {
            let child = Int.random(in: 0..<(groupCount - 1), using: &random)
            let parent = Int.random(in: (child + 1)..<groupCount, using: &random)
            graph.members[groups[parent]]!.insert(groups[child])
        }
        for (objects, memberships) in [(users, userMemberships), (computers, computerMemberships)] {
            for object in objects {
                for _ in 0..<memberships {
                    graph.members[groups.randomElement(using: &random)!]!.insert(object)
                }
                graph.parents[object] = ous.randomElement(using: &random)!
            }
        }
        for user in users { graph.primaryGroups[user] = groups[0] }
        for (position, ou) in ous.enumerated() where position > 0 {
            graph.parents[ou] = ous[Int.random(in: 0..<position, using: &random)]
        }
    }

    func subsettings(count: Int, seed: UInt64) -> [Subsetting] {
        var random = Generator(state: seed)
        let modes = AuthorizationMode.allCases
        return (0..<count).map { number in
            let scope: Subsetting.Scope =
                number % 4 == 0
                ? .init(organizationalUnits: [ous.randomElement(using: &random)!])
                : .init(
                    groups: Set(
                        (0..<Int.random(in: 1...3, using: &random)).map { _ in groups.randomElement(using: &random)! }))
            return Subsetting(
                id: SubsettingID(UUID(uuid: UUID.random(using: &random))),
                name: "subsetting \(number)",
                target: number % 3 == 0 ? .computer : .user,
                scope: scope,
                overrides: .init(runAsAdmin: .init(mode: modes.randomElement(using: &random)!))
            )
        }
    }
}

extension UUID {
    static func random(using random: inout Generator) -> uuid_t {
        let a = random.next()
        let b = random.next()
        return withUnsafeBytes(of: (a, b)) { bytes in
            (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], (bytes[6] & 0x0F) | 0x40, bytes[7],
                (bytes[8] & 0x3F) | 0x80, bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        }
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        maxDuration: .seconds(5),
        maxIterations: 1_000_000
    )

    // The sync target of DESIGN §4: 12,566 objects, 536 groups, about 32.5k member values.
    let syncSized = Tenant(
        seed: 1, groups: 536, nestingRate: 0.7, cycles: 5, ous: 60, users: 10_000,
        computers: 2_030, userMemberships: 3, computerMemberships: 1)
    Benchmark("Closure: 12.5k objects, 536 groups, 32.5k edges", configuration: .init(maxIterations: 50)) { benchmark in
        blackHole(syncSized.graph.closure())
    }

    // Resolution: 1,000 subsettings over a 10,000-group directory.
    let large = Tenant(
        seed: 2, groups: 10_000, nestingRate: 0.6, cycles: 20, ous: 300, users: 20_000,
        computers: 10_000, userMemberships: 4, computerMemberships: 2)
    let largeFacts = DirectoryFacts(graph: large.graph)
    let resolver = PolicyResolver(global: Settings(), subsettings: large.subsettings(count: 1_000, seed: 3))
    var pairRandom = Generator(state: 4)
    let pairs = (0..<4096).map { _ in
        (large.users.randomElement(using: &pairRandom)!, large.computers.randomElement(using: &pairRandom)!)
    }
    Benchmark(
        "Resolve one (user, computer) pair: 1,000 subsettings, 10,000 groups",
        configuration: .init(scalingFactor: .kilo)
    ) { benchmark in
        for iteration in benchmark.scaledIterations {
            let (user, computer) = pairs[iteration & 4095]
            blackHole(resolver.resolve(for: user, on: computer, in: largeFacts))
        }
    }

    // Change detection after a global change: every device of a 10,000-computer tenant.
    var deviceRandom = Generator(state: 5)
    let devices = large.computers.enumerated().map { number, computer in
        ManagedDevice(
            id: number, computer: computer,
            users: (0..<2).map { _ in large.users.randomElement(using: &deviceRandom)! })
    }
    let before = PolicyInputs(
        global: Settings(), subsettings: large.subsettings(count: 1_000, seed: 3), facts: largeFacts)
    let after: PolicyInputs = {
        var inputs = before
        inputs.global.approval.pendingLifetimeMinutes = 60
        return inputs
    }()
    Benchmark(
        "Global change: policies of 10,000 devices (computer + 2 users each) before and after",
        configuration: .init(maxIterations: 50)
    ) { benchmark in
        blackHole(PolicyChange(before: before, after: after).changedDevices(among: devices))
    }

    // Change detection after one subsetting is edited: only devices touching its scope are resolved again.
    let edited: PolicyInputs = {
        var inputs = before
        inputs.subsettings[500].overrides = .init(adminSession: .init(mode: .auditOnly))
        return inputs
    }()
    Benchmark(
        "Subsetting edit: changed devices among 10,000 (computer + 2 users each)",
        configuration: .init(maxIterations: 50)
    ) { benchmark in
        blackHole(PolicyChange(before: before, after: edited).changedDevices(among: devices))
    }
}
