import CharterCore
import CharterServer
import CharterServices
import CharterStore
import Foundation
import Testing

/// Change detection over a real stored directory: which computers a settings or subsetting change reaches
/// (each computer standing for a device with no known users).
@Suite("Policy change detection")
struct PolicyChangesTests {
    /// Servers lockdown (computer, group servers) and Workstations (computer, OU workstations), as in
    /// docs/policy.md, plus a user-target subsetting that no computer policy can see.
    static func subsettings(_ d: PolicyDirectory) -> [Subsetting] {
        [
            Subsetting(
                id: .random(),
                name: "Servers lockdown",
                target: .computer,
                scope: .init(groups: [d["servers"]]),
                overrides: SettingsOverrides(runAsAdmin: .init(mode: .disabled))
            ),
            Subsetting(
                id: .random(),
                name: "Staff",
                target: .user,
                scope: .init(groups: [d["allStaff"]]),
                overrides: SettingsOverrides(runAsAdmin: .init(mode: .reasonRequired))
            ),
            Subsetting(
                id: .random(),
                name: "Workstations",
                target: .computer,
                scope: .init(organizationalUnits: [d["ou:workstations"]]),
                overrides: SettingsOverrides(endpoint: .init(offlineGracePeriodHours: 24))
            ),
        ]
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var change: @Sendable (inout PolicyChanges.Snapshot) -> Void
        var affected: [String]
    }

    static let cases: [Case] = [
        Case(
            description: "editing a computer subsetting reaches the computers in its scope",
            change: { snapshot in
                snapshot.subsettings[2].overrides.endpoint = .init(offlineGracePeriodHours: 12)
            },
            affected: ["ws1", "ws2"]
        ),
        Case(
            description: "disabling the servers' winner reaches srv1 only",
            change: { snapshot in
                snapshot.subsettings[0].isEnabled = false
            },
            affected: ["srv1"]
        ),
        Case(
            description: "a global section every workstation overrides reaches only srv1",
            change: { snapshot in
                snapshot.global.endpoint = .init(offlineGracePeriodHours: 48)
            },
            affected: ["srv1"]
        ),
        Case(
            description: "a global section nobody overrides reaches every computer",
            change: { snapshot in
                snapshot.global.adminSession = .init(mode: .auditOnly)
            },
            affected: ["srv1", "ws1", "ws2"]
        ),
        Case(
            description: "a user-target subsetting changes no computer's own policy",
            change: { snapshot in
                snapshot.subsettings[1].overrides.runAsAdmin = .init(mode: .auditOnly)
            },
            affected: []
        ),
        Case(
            description: "moving Workstations above Servers lockdown changes nobody (their scopes are apart)",
            change: { snapshot in
                snapshot.subsettings.swapAt(0, 2)
            },
            affected: []
        ),
    ]

    @Test("the affected computers of a change", arguments: cases)
    func affected(_ testCase: Case) async throws {
        let world = try await TestApp.makeWorld(tenants: 1)
        let tenant = world.tenants[0]
        let directory = PolicyDirectory()
        try await directory.store(in: tenant, msp: world.msp)
        let subsettings = Self.subsettings(directory)
        let affected = try await TestApp.withOwner { database in
            try await database.withTenant(tenant, msp: world.msp, logger: TestApp.logger) { tx in
                for subsetting in subsettings {
                    _ = try await tx.subsettings.create(tenant, subsetting, at: nil, now: Date())
                }
                let before = try await PolicyChanges.snapshot(of: tenant, in: tx)
                #expect(before.subsettings.map(\.name) == subsettings.map(\.name))
                var after = before
                testCase.change(&after)
                let computers = try await tx.policyFacts.computers(in: tenant).map {
                    ManagedDevice(id: $0, computer: $0, users: [])
                }
                return try await PolicyChanges.affected(among: computers, of: tenant, from: before, to: after, in: tx)
            }
        }
        #expect(Set(affected.map { directory.name(of: $0.description) }) == Set(testCase.affected))
    }
}
