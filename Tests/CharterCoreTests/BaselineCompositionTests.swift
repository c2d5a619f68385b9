import CharterCore
import CharterJSON
import Foundation
import Testing

/// Baselines folded into a tenant's policy (docs/baselines.md, "Precedence"), over the sample directory of
/// docs/policy.md with names and SIDs as a sync stores them.
@Suite("Baseline composition")
struct BaselineCompositionTests {
    typealias S = SampleDirectory

    static let builtinAdministrators = ObjectGUID.numbered(0x20a)

    /// The sample directory's names: groups by cn (and some by sAMAccountName and SID), OUs by DN.
    static let directory = ScopeDirectory(
        groups: [
            .init(guid: S.helpdesk, accountName: "Helpdesk", name: "IT Helpdesk", sid: "S-1-5-21-11-22-33-1104"),
            .init(guid: S.domainUsers, accountName: "Domain Users", name: "Domain Users", sid: "S-1-5-21-11-22-33-513"),
            .init(guid: S.servers, accountName: nil, name: "Servers", sid: nil),
            .init(guid: builtinAdministrators, accountName: "Administrators", name: "Administrators", sid: "S-1-5-32-544"),
        ],
        organizationalUnits: [
            .init(guid: S.corp, dn: "OU=Corp,DC=example,DC=test"),
            .init(guid: S.staff, dn: "OU=Staff,OU=Corp,DC=example,DC=test"),
            .init(guid: S.workstations, dn: "OU=Workstations, OU=Corp,DC=Example,DC=test"),
            .init(guid: S.serversOU, dn: "OU=Servers,OU=Corp,DC=example,DC=test"),
        ],
        domains: ["DC=example,DC=test"]
    )

    static func scope(groups: [String] = [], ous: [String] = []) throws -> NamedScope {
        NamedScope(
            groups: try groups.map { try NamedScope.GroupReference.parse($0).get() },
            organizationalUnits: try ous.map { try NamedScope.OUPath.parse($0).get() }
        )
    }

    static let baselineA = Baseline(
        id: BaselineID(ObjectGUID.numbered(0xa00).rawValue), name: "Standard",
        settings: SettingsOverrides(runAsAdmin: .init(mode: .auditOnly), endpoint: .init(offlineGracePeriodHours: 24))
    )
    static let baselineB = Baseline(
        id: BaselineID(ObjectGUID.numbered(0xb00).rawValue), name: "Strict",
        settings: SettingsOverrides(
            runAsAdmin: .init(mode: .disabled), approval: .init(pendingLifetimeMinutes: 60)
        )
    )

    static func compose(
        _ settings: Settings = Settings(), sets sections: Set<Settings.Section> = [], subsettings: [Subsetting] = [],
        baselines: [Baseline]
    ) -> PolicyComposition {
        PolicyComposition(
            settings: settings, setSections: sections, subsettings: subsettings, baselines: baselines,
            directory: directory
        )
    }

    // MARK: - Global sections

    struct SectionCase: Sendable, CustomStringConvertible {
        var description: String
        var sets: Set<Settings.Section>
        var baselines: [String]
        var runAsAdmin: AuthorizationMode
        var runAsAdminFrom: String
        var approvalFrom: String
        var endpointHours: Int
    }

    static let sectionCases: [SectionCase] = [
        SectionCase(
            description: "a tenant without settings takes each section from the first baseline that sets it",
            sets: [], baselines: ["A", "B"], runAsAdmin: .auditOnly, runAsAdminFrom: "A", approvalFrom: "B",
            endpointHours: 24
        ),
        SectionCase(
            description: "assignment order decides between baselines",
            sets: [], baselines: ["B", "A"], runAsAdmin: .disabled, runAsAdminFrom: "B", approvalFrom: "B",
            endpointHours: 24
        ),
        SectionCase(
            description: "a section the tenant set wins over every baseline",
            sets: [.runAsAdmin], baselines: ["A", "B"], runAsAdmin: .reasonRequired, runAsAdminFrom: "tenant",
            approvalFrom: "B", endpointHours: 24
        ),
        SectionCase(
            description: "only the sections the tenant's document contained win: the others follow the baselines",
            sets: [.runAsAdmin, .approval], baselines: ["A"], runAsAdmin: .reasonRequired,
            runAsAdminFrom: "tenant", approvalFrom: "tenant", endpointHours: 24
        ),
        SectionCase(
            description: "without baselines the tenant's settings are the global settings, and the rest defaults",
            sets: [.runAsAdmin], baselines: [], runAsAdmin: .reasonRequired, runAsAdminFrom: "tenant",
            approvalFrom: "defaults", endpointHours: 72
        ),
    ]

    @Test("per section: the tenant's setting, else the first assigned baseline's, else the default", arguments: sectionCases)
    func sections(_ testCase: SectionCase) {
        let tenant = Settings(runAsAdmin: .init(mode: .reasonRequired), approval: .init(pendingLifetimeMinutes: 30))
        let byName = ["A": Self.baselineA, "B": Self.baselineB]
        let composition = Self.compose(tenant, sets: testCase.sets, baselines: testCase.baselines.compactMap { byName[$0] })
        #expect(composition.global.runAsAdmin.mode == testCase.runAsAdmin)
        #expect(composition.global.endpoint.offlineGracePeriodHours == testCase.endpointHours)
        func name(_ source: SectionSource?) -> String {
            switch source {
            case .baseline(let baseline): baseline == Self.baselineA.reference ? "A" : "B"
            case .tenant: "tenant"
            case .defaults: "defaults"
            default: "\(String(describing: source))"
            }
        }
        #expect(name(composition.globalSources[.runAsAdmin]) == testCase.runAsAdminFrom)
        #expect(name(composition.globalSources[.approval]) == testCase.approvalFrom)
        #expect(composition.globalSources[.adminSession] == .defaults)
    }

    @Test("a tenant with settings and no baselines resolves exactly as before baselines existed")
    func noBaselinesChangesNothing() {
        let tenant = Settings(
            runAsAdmin: .init(mode: .auditOnly),
            preApprovedApplications: [.init(fileName: "setup.exe", protection: .none)]
        )
        let composition = Self.compose(tenant, sets: Set(Settings.Section.allCases), baselines: [])
        #expect(composition.global == tenant)
        #expect(Self.compose(Settings(), sets: [], baselines: []).global == Settings())
    }

    @Test("pre-approved applications: the tenant's entries, then each baseline's library in order, duplicates dropped")
    func libraryUnion() {
        func app(_ name: String) -> Settings.PreApprovedApplication { .init(fileName: name, protection: .none) }
        var a = Self.baselineA
        a.library = [app("y.exe"), app("z.exe")]
        var b = Self.baselineB
        b.library = [app("z.exe"), app("w.exe")]
        let tenant = Settings(preApprovedApplications: [app("x.exe"), app("y.exe")])
        let combined = Self.compose(tenant, sets: [.preApprovedApplications], baselines: [a, b])
        #expect(combined.global.preApprovedApplications.map(\.fileName) == ["x.exe", "y.exe", "z.exe", "w.exe"])
        #expect(
            combined.globalSources[.preApprovedApplications]
                == .combined(includesTenant: true, baselines: [a.reference, b.reference])
        )
        let unset = Self.compose(Settings(), sets: [], baselines: [b, a])
        #expect(unset.global.preApprovedApplications.map(\.fileName) == ["z.exe", "w.exe", "y.exe"])
        #expect(unset.globalSources[.preApprovedApplications] == .combined(includesTenant: false, baselines: [b.reference, a.reference]))
    }

    // MARK: - Named scopes

    @Test(
        "a named scope entry resolves in the tenant's directory",
        arguments: [
            ("Helpdesk", [S.helpdesk]),
            ("it helpdesk", [S.helpdesk]),
            ("HELPDESK", [S.helpdesk]),
            ("S-1-5-21-11-22-33-513", [S.domainUsers]),
            ("s-1-5-32-544", [builtinAdministrators]),
            ("-513", [S.domainUsers]),
            ("-1104", [S.helpdesk]),
            ("-512", []),
            ("Servers", [S.servers]),
            ("Nobody", []),
        ] as [(String, [ObjectGUID])]
    )
    func groups(entry: String, expected: [ObjectGUID]) throws {
        let reference = try NamedScope.GroupReference.parse(entry).get()
        #expect(Set(Self.directory.resolver().groups(reference)) == Set(expected))
    }

    @Test(
        "an OU path is the DN below the domain, nearest OU first, compared without case or spaces",
        arguments: [
            ("OU=Workstations,OU=Corp", [S.workstations]),
            ("ou = workstations , ou=CORP", [S.workstations]),
            ("OU=Corp", [S.corp]),
            ("OU=Workstations", []),
            ("OU=Corp,OU=Workstations", []),
        ] as [(String, [ObjectGUID])]
    )
    func organizationalUnits(path: String, expected: [ObjectGUID]) throws {
        let parsed = try NamedScope.OUPath.parse(path).get()
        #expect(Self.directory.resolver().organizationalUnits(parsed) == expected)
    }

    @Test("a connection's base DN below the domain root still names the domain")
    func baseDNBelowRoot() throws {
        var directory = Self.directory
        directory.domains = ["OU=Corp,DC=example,DC=test"]
        let path = try NamedScope.OUPath.parse("OU=Staff,OU=Corp").get()
        #expect(directory.resolver().organizationalUnits(path) == [S.staff])
    }

    // MARK: - Subsettings

    static func subsettingBaseline(_ scope: NamedScope, mode: AuthorizationMode = .auditOnly) -> Baseline {
        Baseline(
            id: BaselineID(ObjectGUID.numbered(0xc00).rawValue), name: "Helpdesk tools",
            subsettings: [
                .init(name: "Helpdesk", target: .user, scope: scope, overrides: SettingsOverrides(runAsAdmin: .init(mode: mode)))
            ]
        )
    }

    @Test("baseline subsettings come after the tenant's: the tenant's win where both match")
    func subsettingOrder() throws {
        let tenantSubsetting = Subsetting(
            id: .numbered(1), name: "Tenant helpdesk", target: .user, scope: .init(groups: [S.helpdesk]),
            overrides: SettingsOverrides(runAsAdmin: .init(mode: .reasonRequired))
        )
        let baseline = Self.subsettingBaseline(try Self.scope(groups: ["Helpdesk", "-513"]))
        let composition = Self.compose(subsettings: [tenantSubsetting], baselines: [baseline])
        let resolver = composition.resolver
        #expect(resolver.resolve(for: S.bob, on: nil, in: S.facts).settings.runAsAdmin.mode == .reasonRequired)
        let dave = composition.explain(for: S.dave, on: nil, in: S.facts)
        #expect(dave.explanation.policy.settings.runAsAdmin.mode == .auditOnly)
        let winner = try #require(dave.explanation.winner)
        #expect(winner.subsettingID == baseline.subsettingID(at: 0) && winner.priority == 1)
        #expect(dave.origins[winner.subsettingID] == baseline.reference)
        let sources = Dictionary(uniqueKeysWithValues: dave.sections.map { ($0.0, $0.1) })
        #expect(sources[.runAsAdmin] == .subsetting(id: winner.subsettingID, name: "Helpdesk", baseline: baseline.reference))
        #expect(sources[.endpoint] == .defaults)
        #expect(composition.unresolved.isEmpty)
    }

    @Test("an entry that does not resolve is reported; the subsetting applies with what resolves")
    func partlyUnresolved() throws {
        let baseline = Self.subsettingBaseline(try Self.scope(groups: ["Helpdesk", "Contractors"], ous: ["OU=Lab"]))
        let composition = Self.compose(baselines: [baseline])
        #expect(composition.resolver.resolve(for: S.bob, on: nil, in: S.facts).settings.runAsAdmin.mode == .auditOnly)
        #expect(
            composition.unresolved == [
                .init(
                    baseline: baseline.reference, index: 0, name: "Helpdesk", groups: ["Contractors"],
                    organizationalUnits: ["OU=Lab"], matchesNobody: false
                )
            ]
        )
    }

    @Test("a scope of which nothing resolves matches nobody and says so")
    func nothingResolves() throws {
        let baseline = Self.subsettingBaseline(try Self.scope(groups: ["Contractors"]), mode: .disabled)
        let composition = Self.compose(baselines: [baseline])
        for user in [S.alice, S.bob, S.carol, S.dave] {
            #expect(composition.resolver.resolve(for: user, on: nil, in: S.facts).source == .global)
        }
        #expect(composition.unresolved.map(\.matchesNobody) == [true])
        let explained = composition.explain(for: S.bob, on: nil, in: S.facts)
        #expect(explained.unresolved.first?.groups == ["Contractors"])
    }

    // MARK: - Drift and change detection

    @Test("drift lists every section the tenant sets that an assigned baseline sets too, with both values")
    func drift() {
        var equal = Self.baselineB
        equal.settings = SettingsOverrides(runAsAdmin: .init(mode: .reasonRequired))
        let tenant = Settings(runAsAdmin: .init(mode: .reasonRequired))
        let composition = Self.compose(tenant, sets: [.runAsAdmin, .adminSession], baselines: [Self.baselineA, equal])
        #expect(composition.overrides.map(\.section) == [.runAsAdmin, .runAsAdmin])
        #expect(composition.overrides.map(\.baseline) == [Self.baselineA.reference, equal.reference])
        #expect(composition.overrides.map(\.isEqual) == [false, true])
        #expect(composition.overrides[0].baselineValue == Settings(runAsAdmin: .init(mode: .auditOnly)).json(of: .runAsAdmin))
    }

    @Test("a baseline edit reaches exactly the devices whose combined policy changes")
    func changeDetection() throws {
        func workstations(_ hours: Int) throws -> Baseline {
            Baseline(
                id: BaselineID(ObjectGUID.numbered(0xd00).rawValue), name: "Workstations",
                subsettings: [
                    .init(
                        name: "Workstations", target: .computer, scope: try Self.scope(ous: ["OU=Workstations,OU=Corp"]),
                        overrides: SettingsOverrides(endpoint: .init(offlineGracePeriodHours: hours))
                    )
                ]
            )
        }
        let devices = [S.ws1, S.ws2, S.srv1].map { ManagedDevice(id: S.names[$0] ?? "", computer: $0, users: []) }
        func inputs(_ composition: PolicyComposition) -> PolicyInputs {
            PolicyInputs(global: composition.global, subsettings: composition.subsettings, facts: S.facts)
        }
        let subsettingEdit = PolicyChange(
            before: inputs(Self.compose(baselines: [try workstations(24)])), after: inputs(Self.compose(baselines: [try workstations(12)]))
        )
        #expect(subsettingEdit.changedDevices(among: devices) == ["ws1", "ws2"])
        let globalEdit = PolicyChange(
            before: inputs(Self.compose(baselines: [try workstations(24)])),
            after: inputs(Self.compose(baselines: [try workstations(24), Self.baselineA]))
        )
        #expect(globalEdit.changedDevices(among: devices) == ["ws1", "ws2", "srv1"])
        let overridden = PolicyChange(
            before: inputs(Self.compose(Settings(), sets: [.runAsAdmin, .endpoint], baselines: [])),
            after: inputs(Self.compose(Settings(), sets: [.runAsAdmin, .endpoint], baselines: [Self.baselineA]))
        )
        #expect(overridden.changedDevices(among: devices).isEmpty, "the tenant sets both sections baseline A sets")
    }
}
