import CharterCore
import Foundation
import Testing

@Suite("Request decisions")
struct RequestDecisionTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let user = ObjectGUID.numbered(1)
    static let sha = String(repeating: "3c", count: 32)
    static let thumbprint = String(repeating: "a1", count: 20)

    static func policy(
        runAsAdmin: AuthorizationMode = .approvalRequired,
        adminSession: AuthorizationMode = .approvalRequired,
        allowsPINOverride: Bool = false,
        apps: [Settings.PreApprovedApplication] = [],
        source: EffectivePolicy.Source = .global
    ) -> EffectivePolicy {
        var settings = Settings()
        settings.runAsAdmin = .init(mode: runAsAdmin, allowsPINOverride: allowsPINOverride)
        settings.adminSession = .init(mode: adminSession, allowsPINOverride: allowsPINOverride)
        settings.approval.pendingLifetimeMinutes = 90
        settings.preApprovedApplications = apps
        return EffectivePolicy(settings: settings, source: source)
    }

    static func request(
        _ kind: ElevationKind = .runAsAdmin,
        file: String = "setup.exe",
        path: String? = nil,
        sha256: String? = nil,
        subject: String? = nil,
        thumbprint: String? = nil,
        vendor: String? = nil,
        reason: String? = nil
    ) -> ElevationRequest {
        ElevationRequest(
            kind: kind,
            user: user,
            application: .init(
                fileName: file, path: path, sha256: sha256, signerSubject: subject, certificateThumbprint: thumbprint,
                vendor: vendor
            ),
            reason: reason
        )
    }

    @Test(
        "without a pre-approved match, the mode decides",
        arguments: [
            (AuthorizationMode.auditOnly, nil, RequestDecision.Outcome.allowed(isLogged: true)),
            (.reasonRequired, "installing the printer driver", .allowed(isLogged: true)),
            (.reasonRequired, nil, .rejected(.reasonMissing)),
            (.reasonRequired, "  \n\t", .rejected(.reasonMissing)),
            (.approvalRequired, "please", .pending(expiresAt: now.addingTimeInterval(90 * 60))),
            (.disabled, "please", .denied(allowsPINOverride: false)),
        ] as [(AuthorizationMode, String?, RequestDecision.Outcome)]
    )
    func modeDecides(mode: AuthorizationMode, reason: String?, expected: RequestDecision.Outcome) {
        for kind in ElevationKind.allCases {
            let policy = Self.policy(runAsAdmin: mode, adminSession: mode)
            let decision = RequestDecision.decide(Self.request(kind, reason: reason), under: policy, at: Self.now)
            #expect(decision.outcome == expected)
            #expect(decision.reason == .mode(mode))
            #expect(decision.decidedBy == .global)
        }
    }

    @Test("each kind is decided by its own section, and a denial says whether the PIN may override")
    func sectionPerKind() {
        let policy = Self.policy(runAsAdmin: .auditOnly, adminSession: .disabled, allowsPINOverride: true)
        let session = RequestDecision.decide(
            ElevationRequest(kind: .adminSession, user: Self.user), under: policy, at: Self.now)
        #expect(session.outcome == .denied(allowsPINOverride: true))
        #expect(RequestDecision.decide(Self.request(), under: policy, at: Self.now).outcome == .allowed(isLogged: true))
    }

    @Test("the decision names the subsetting whose settings decided")
    func decidedBySubsetting() {
        let source = EffectivePolicy.Source.subsetting(id: .numbered(9), name: "Developers")
        let decision = RequestDecision.decide(
            Self.request(), under: Self.policy(runAsAdmin: .disabled, source: source), at: Self.now)
        #expect(decision.decidedBy == source)
    }

    static let pathEntry = Settings.PreApprovedApplication(
        fileName: "Setup.EXE", protection: .path(WindowsPath(#"C:\Program Files\Vendor"#)!), logsToAudit: false
    )
    static let checksumEntry = Settings.PreApprovedApplication(
        fileName: "setup.exe", protection: .checksum(sha256: sha), appliesTo: [.runAsAdmin, .adminSession]
    )
    static let certificateEntry = Settings.PreApprovedApplication(
        fileName: "setup.exe", kind: .installer,
        protection: .certificate(.init(subject: "CN=Vendor Ltd, O=Vendor", vendor: "Vendor", thumbprint: thumbprint))
    )
    static let vendorOnlyEntry = Settings.PreApprovedApplication(
        fileName: "setup.exe", protection: .certificate(.init(vendor: "Vendor"))
    )
    static let noneEntry = Settings.PreApprovedApplication(fileName: "setup.exe", protection: .none)

    @Test(
        "a pre-approved application is allowed only when its file name matches and its protection holds",
        arguments: [
            (pathEntry, request(path: #"C:\Program Files\Vendor\setup.exe"#), true),
            (pathEntry, request(file: "SETUP.exe", path: #"c:/program files/vendor/bin/setup.exe"#), true),
            (pathEntry, request(path: #"\\?\C:\Program Files\Vendor\setup.exe"#), true),
            (pathEntry, request(path: #"C:\Program Files\Vendor\..\Evil\setup.exe"#), false),
            (pathEntry, request(path: #"C:\Program Files\Vendor2\setup.exe"#), false),
            (pathEntry, request(path: #"C:\Users\eve\Downloads\setup.exe"#), false),
            (pathEntry, request(path: #"Program Files\Vendor\setup.exe"#), false),
            (pathEntry, request(path: nil), false),
            (pathEntry, request(file: "other.exe", path: #"C:\Program Files\Vendor\other.exe"#), false),
            (pathEntry, request(.adminSession, path: #"C:\Program Files\Vendor\setup.exe"#), false),
            (checksumEntry, request(sha256: sha.uppercased()), true),
            (checksumEntry, request(.adminSession, sha256: sha), true),
            (checksumEntry, request(sha256: String(repeating: "00", count: 32)), false),
            (checksumEntry, request(sha256: nil), false),
            (
                certificateEntry,
                request(subject: "cn=vendor ltd, o=vendor ", thumbprint: thumbprint.uppercased(), vendor: "VENDOR"),
                true
            ),
            (certificateEntry, request(subject: "CN=Vendor Ltd, O=Vendor", thumbprint: nil, vendor: "Vendor"), false),
            (certificateEntry, request(subject: "CN=Evil, O=Vendor", thumbprint: thumbprint, vendor: "Vendor"), false),
            (
                certificateEntry,
                request(
                    subject: "CN=Vendor Ltd, O=Vendor", thumbprint: String(repeating: "b2", count: 20), vendor: "Vendor"
                ), false
            ),
            (vendorOnlyEntry, request(vendor: "vendor"), true),
            (vendorOnlyEntry, request(vendor: nil), false),
            (noneEntry, request(file: "SeTuP.exe"), true),
            (noneEntry, request(file: "setup.exe.bak"), false),
        ] as [(Settings.PreApprovedApplication, ElevationRequest, Bool)]
    )
    func preApproved(entry: Settings.PreApprovedApplication, request: ElevationRequest, allowed: Bool) throws {
        let policy = Self.policy(runAsAdmin: .disabled, adminSession: .disabled, apps: [Self.noneEntryDecoy, entry])
        let decision = RequestDecision.decide(request, under: policy, at: Self.now)
        if allowed {
            #expect(decision.outcome == .allowed(isLogged: entry.logsToAudit))
            #expect(decision.reason == .preApproved(index: 1, fileName: try #require(entry.fileName)))
        } else {
            #expect(decision.outcome == .denied(allowsPINOverride: false))
            #expect(decision.reason == .mode(.disabled))
        }
    }

    /// An entry for another file, so the matching entry is never the first one.
    static let noneEntryDecoy = Settings.PreApprovedApplication(fileName: "decoy.exe", protection: .none)

    @Test("an admin session without an application is decided by the mode")
    func sessionWithoutApplication() {
        let policy = Self.policy(adminSession: .auditOnly, apps: [Self.noneEntry])
        let decision = RequestDecision.decide(
            ElevationRequest(kind: .adminSession, user: Self.user), under: policy, at: Self.now)
        #expect(decision.outcome == .allowed(isLogged: true) && decision.reason == .mode(.auditOnly))
    }

    @Test(
        "an earlier approval of the same application allows a re-run only within the approval validity",
        arguments: [
            (30, -29 * 60.0, true),
            (30, -30 * 60.0, false),
            (30, 60.0, false),  // an approval from the future is not trusted
            (0, -1.0, false),  // validity 0: every run asks
        ] as [(Int, TimeInterval, Bool)]
    )
    func approvalValidity(validityMinutes: Int, approvedOffset: TimeInterval, allowed: Bool) {
        var settings = Settings()
        settings.approval.approvalValidityMinutes = validityMinutes
        let policy = EffectivePolicy(settings: settings, source: .global)
        let approvedAt = Self.now.addingTimeInterval(approvedOffset)
        let decision = RequestDecision.decide(Self.request(), under: policy, at: Self.now, lastApproval: approvedAt)
        if allowed {
            #expect(decision.outcome == .allowed(isLogged: true))
            #expect(decision.reason == .approvalStillValid(approvedAt: approvedAt))
        } else {
            #expect(decision.outcome == .pending(expiresAt: Self.now.addingTimeInterval(1440 * 60)))
        }
    }

    @Test("an earlier approval does not override a mode that no longer requires approval")
    func approvalValidityOnlyInApprovalMode() {
        var settings = Settings()
        settings.runAsAdmin.mode = .disabled
        settings.approval.approvalValidityMinutes = 60
        let policy = EffectivePolicy(settings: settings, source: .global)
        let decision = RequestDecision.decide(Self.request(), under: policy, at: Self.now, lastApproval: Self.now)
        #expect(decision.outcome == .denied(allowsPINOverride: false))
    }
}
