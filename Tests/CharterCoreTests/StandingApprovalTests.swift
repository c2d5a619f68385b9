import CharterCore
import Foundation
import Testing

/// The reason-and-approval mode, standing approvals and what bundle format 1 carries of both.
@Suite("Standing approvals and the reason-and-approval mode")
struct StandingApprovalTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let alice = ObjectGUID.numbered(1)
    static let bob = ObjectGUID.numbered(2)
    static let finance = ObjectGUID.numbered(10)
    static let ws1 = DeviceID(UUID(uuidString: "00000000-0000-0000-0000-0000000000d1")!)
    static let ws2 = DeviceID(UUID(uuidString: "00000000-0000-0000-0000-0000000000d2")!)
    static let sha = String(repeating: "3c", count: 32)

    static func approval(
        _ scope: StandingApproval.Scope, sha256: String? = sha, path: String? = nil, kind: ElevationKind = .runAsAdmin,
        minutes: Double = 60
    ) -> StandingApproval {
        StandingApproval(
            id: UUID(), requestID: UUID(), kind: kind, scope: scope, sha256: sha256, path: path, approvedAt: now,
            expiresAt: now.addingTimeInterval(minutes * 60), approvedBy: "approver"
        )
    }

    static func request(
        user: ObjectGUID? = alice, sha256: String? = sha, path: String? = nil, kind: ElevationKind = .runAsAdmin,
        reason: String? = "needed"
    ) -> ElevationRequest {
        ElevationRequest(
            kind: kind, user: user,
            application: .init(fileName: "tool.exe", path: path, sha256: sha256), reason: reason
        )
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var label: String
        var approval: StandingApproval
        var request: ElevationRequest
        var device: DeviceID = StandingApprovalTests.ws1
        var groups: Set<ObjectGUID> = []
        var at: Date = StandingApprovalTests.now
        var covers: Bool
        var testDescription: String { label }
    }

    static let cases: [Case] = [
        Case(label: "user on computer: same user, same device", approval: approval(.userOnComputer(user: alice, device: ws1)), request: request(), covers: true),
        Case(label: "user on computer: another user", approval: approval(.userOnComputer(user: alice, device: ws1)), request: request(user: bob), covers: false),
        Case(label: "user on computer: another device", approval: approval(.userOnComputer(user: alice, device: ws1)), request: request(), device: ws2, covers: false),
        Case(label: "user on computer: an unknown user", approval: approval(.userOnComputer(user: alice, device: ws1)), request: request(user: nil), covers: false),
        Case(label: "group: a member", approval: approval(.group(finance)), request: request(user: bob), device: ws2, groups: [finance], covers: true),
        Case(label: "group: not a member", approval: approval(.group(finance)), request: request(user: bob), groups: [.numbered(11)], covers: false),
        Case(label: "group: an unknown user claims the group", approval: approval(.group(finance)), request: request(user: nil), groups: [finance], covers: false),
        Case(label: "tenant: anyone, even unknown", approval: approval(.tenant), request: request(user: nil), device: ws2, covers: true),
        Case(label: "another SHA-256", approval: approval(.tenant), request: request(sha256: String(repeating: "00", count: 32)), covers: false),
        Case(label: "SHA-256 in upper case", approval: approval(.tenant), request: request(sha256: sha.uppercased()), covers: true),
        Case(label: "no SHA-256 on the request", approval: approval(.tenant), request: request(sha256: nil, path: #"C:\x\tool.exe"#), covers: false),
        Case(label: "another kind", approval: approval(.tenant), request: request(kind: .adminSession), covers: false),
        Case(label: "at the expiry", approval: approval(.tenant), request: request(), at: now.addingTimeInterval(3600), covers: false),
        Case(label: "a second before the expiry", approval: approval(.tenant), request: request(), at: now.addingTimeInterval(3599), covers: true),
        Case(label: "before the approval", approval: approval(.tenant), request: request(), at: now.addingTimeInterval(-1), covers: false),
        Case(label: "by path: same path, any case", approval: approval(.userOnComputer(user: alice, device: ws1), sha256: nil, path: #"C:\Tools\tool.exe"#), request: request(sha256: nil, path: #"c:\tools\TOOL.exe"#), covers: true),
        Case(label: "by path: a request with a SHA-256 is not covered", approval: approval(.userOnComputer(user: alice, device: ws1), sha256: nil, path: #"C:\Tools\tool.exe"#), request: request(path: #"C:\Tools\tool.exe"#), covers: false),
        Case(label: "by path: another path", approval: approval(.userOnComputer(user: alice, device: ws1), sha256: nil, path: #"C:\Tools\tool.exe"#), request: request(sha256: nil, path: #"C:\Temp\tool.exe"#), covers: false),
    ]

    @Test("a standing approval covers requests of its kind, application, scope and time only", arguments: cases)
    func covers(_ example: Case) {
        #expect(example.approval.covers(example.request, on: example.device, groups: example.groups, at: example.at) == example.covers)
    }

    static func policy(_ mode: AuthorizationMode) -> EffectivePolicy {
        var settings = Settings()
        settings.runAsAdmin = .init(mode: mode)
        settings.approval.pendingLifetimeMinutes = 90
        return EffectivePolicy(settings: settings, source: .global)
    }

    @Test(
        "reason and approval: no reason is rejected first, a reason makes it pending",
        arguments: [
            (nil as String?, RequestDecision.Outcome.rejected(.reasonMissing)),
            (" \n", .rejected(.reasonMissing)),
            ("installing the printer", .pending(expiresAt: now.addingTimeInterval(90 * 60))),
        ] as [(String?, RequestDecision.Outcome)]
    )
    func reasonAndApproval(reason: String?, expected: RequestDecision.Outcome) {
        for kind in ElevationKind.allCases {
            var settings = Settings()
            settings.runAsAdmin = .init(mode: .reasonAndApprovalRequired)
            settings.adminSession = .init(mode: .reasonAndApprovalRequired)
            settings.approval.pendingLifetimeMinutes = 90
            let request = ElevationRequest(kind: kind, user: Self.alice, reason: reason)
            let decision = RequestDecision.decide(request, under: EffectivePolicy(settings: settings, source: .global), at: Self.now)
            #expect(decision.outcome == expected)
            #expect(decision.reason == .mode(.reasonAndApprovalRequired))
        }
    }

    @Test(
        "a standing approval allows in the approval modes only, and never spares the reason",
        arguments: [
            (AuthorizationMode.approvalRequired, "why" as String?, RequestDecision.Outcome.allowed(isLogged: true)),
            (.approvalRequired, nil, .allowed(isLogged: true)),
            (.reasonAndApprovalRequired, "why", .allowed(isLogged: true)),
            (.reasonAndApprovalRequired, nil, .rejected(.reasonMissing)),
            (.disabled, "why", .denied(allowsPINOverride: false)),
            (.reasonRequired, nil, .rejected(.reasonMissing)),
        ] as [(AuthorizationMode, String?, RequestDecision.Outcome)]
    )
    func standingApprovalDecides(mode: AuthorizationMode, reason: String?, expected: RequestDecision.Outcome) {
        let approval = Self.approval(.tenant)
        let decision = RequestDecision.decide(
            Self.request(reason: reason), under: Self.policy(mode), at: Self.now, standingApproval: approval
        )
        #expect(decision.outcome == expected)
        if expected == .allowed(isLogged: true), mode.needsApproval {
            #expect(decision.reason == .standingApproval(approval))
        }
    }

    @Test("an expired or other-kind standing approval handed to the decision changes nothing")
    func staleStandingApproval() {
        for approval in [Self.approval(.tenant, minutes: -1), Self.approval(.tenant, kind: .adminSession)] {
            let decision = RequestDecision.decide(
                Self.request(), under: Self.policy(.approvalRequired), at: Self.now, standingApproval: approval
            )
            #expect(decision.outcome == .pending(expiresAt: Self.now.addingTimeInterval(90 * 60)))
        }
    }

    @Test("bundle format 1 carries the new mode as approval_required and leaves out entries old agents misread")
    func bundleFormat1() throws {
        var settings = Settings()
        settings.runAsAdmin = .init(mode: .reasonAndApprovalRequired)
        settings.adminSession = .init(mode: .auditOnly)
        let named = Settings.PreApprovedApplication(fileName: "a.exe", protection: .checksum(sha256: Self.sha))
        let literal = Settings.PreApprovedApplication(
            fileName: "b.exe", protection: .path(try #require(WindowsPath(location: #"C:\Program Files\B"#)))
        )
        let variable = Settings.PreApprovedApplication(
            fileName: "c.exe", protection: .path(try #require(WindowsPath(location: #"%ProgramFiles%\C"#)))
        )
        let signer = Settings.PreApprovedApplication(fileName: nil, protection: .certificate(.init(vendor: "Contoso")))
        settings.preApprovedApplications = [named, variable, literal, signer]
        let carried = settings.bundleFormat1
        #expect(carried.runAsAdmin.mode == .approvalRequired)
        #expect(carried.adminSession.mode == .auditOnly)
        #expect(carried.preApprovedApplications == [named, literal])
        // What bundle format 1 already knew is carried unchanged.
        for mode in AuthorizationMode.allCases where mode != .reasonAndApprovalRequired {
            #expect(mode.bundleFormat1 == mode)
        }
        var old = Settings()
        old.preApprovedApplications = [named, literal]
        #expect(old.bundleFormat1 == old)
    }
}
