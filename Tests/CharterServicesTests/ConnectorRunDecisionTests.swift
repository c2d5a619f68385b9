import CharterAgentWire
import CharterCore
import CharterServices
import CharterStore
import Foundation
import Testing

@Suite("Connector-run decisions")
struct ConnectorRunDecisionTests {
    static let a = ConnectorID.random()
    static let b = ConnectorID.random()
    static let stranger = ConnectorID.random()

    @Test(
        "a run goes to the lease holder only when it serves the connection",
        arguments: [
            (ConnectorID?.some(a), [a, b], ConnectorID?.some(a)),
            (b, [a, b], b),
            (nil, [a, b], nil),
            (stranger, [a, b], nil),
            (a, [], nil),
        ] as [(ConnectorID?, [ConnectorID], ConnectorID?)]
    )
    func assignee(lease: ConnectorID?, serving: [ConnectorID], expected: ConnectorID?) {
        #expect(ConnectorRunDecision.assignee(lease: lease, serving: serving) == expected)
    }

    static func progress(
        _ state: ConnectorUpload.State, assigned: ConnectorID = a, active: ConnectorID?, error: String? = nil
    ) -> ConnectorUploadProgress {
        ConnectorUploadProgress(
            state: state, connectorID: assigned, connectorName: "Site A connector 1", error: error,
            activeConnectorID: active
        )
    }

    @Test(
        "the wait: keep waiting, hand over when another connector of the connection holds the lease, load, or fail",
        arguments: [
            (progress(.waiting, active: a), Duration.zero, ConnectorRunDecision.Step.wait),
            // The lease ran out and nobody took it yet: the run waits for a connector up to the grace…
            (progress(.waiting, active: nil), .seconds(14), .wait),
            // …and then fails as offline, as a run that starts with none online does.
            (progress(.waiting, active: nil), .seconds(15), .offline),
            (progress(.waiting, active: nil), .seconds(1800), .offline),
            (progress(.waiting, active: b), .zero, .reassign(to: b)),
            // A connector the connection no longer names never gets the run, and does not count as online.
            (progress(.waiting, active: stranger), .seconds(3), .wait),
            (progress(.waiting, active: stranger), .seconds(15), .offline),
            // Whatever the silence, an upload that finished or failed ends the wait as it says.
            (progress(.complete, active: b), .zero, .load),
            (progress(.complete, active: nil), .seconds(60), .load),
            (
                progress(.failed, active: a, error: "LDAP: bind failed: invalid credentials"), .zero,
                .fail(#"connector "Site A connector 1": LDAP: bind failed: invalid credentials"#)
            ),
            (
                progress(.failed, active: nil, error: "LDAP: timed out"), .seconds(60),
                .fail(#"connector "Site A connector 1": LDAP: timed out"#)
            ),
        ] as [(ConnectorUploadProgress, Duration, ConnectorRunDecision.Step)]
    )
    func next(progress: ConnectorUploadProgress, unheldFor: Duration, expected: ConnectorRunDecision.Step) {
        let step = ConnectorRunDecision.next(progress, serving: [Self.a, Self.b], unheldFor: unheldFor, grace: .seconds(15))
        #expect(step == expected)
    }

    @Test(
        "a run without a connector online says since when each was silent",
        arguments: [
            (
                [ConnectorPresence(id: a, name: "Site A connector 1", lastSeenAt: Date(timeIntervalSince1970: 1_796_637_482), isRevoked: false)],
                #"no connector online: "Site A connector 1" last seen 2026-12-07T09:58:02Z"#
            ),
            (
                [
                    ConnectorPresence(id: a, name: "One", lastSeenAt: Date(timeIntervalSince1970: 1_796_637_482), isRevoked: false),
                    ConnectorPresence(id: b, name: "Two", lastSeenAt: nil, isRevoked: false),
                ],
                #"no connector online: "One" last seen 2026-12-07T09:58:02Z, "Two" never seen"#
            ),
            ([], "no connector online: the connection names no connector"),
        ] as [([ConnectorPresence], String)]
    )
    func offline(connectors: [ConnectorPresence], expected: String) {
        #expect(ConnectorRunDecision.offlineMessage(connectors) == expected)
    }

    static let invocation = UUID()
    static let watermark = StoredWatermark(
        serviceName: "CN=NTDS Settings,CN=DC1", invocationID: invocation, usn: 48_213, domainSID: nil,
        lastFullSyncAt: Date(), syncedAt: Date()
    )

    static func completion(
        _ kind: ConnectorRunAssignment.Kind, service: String = "CN=NTDS Settings,CN=DC1", invocation: UUID = invocation,
        usn: Int64 = 48_300
    ) -> ConnectorRunCompletion {
        ConnectorRunCompletion(
            pages: 1, kind: kind, objectsRead: 1, tombstonesRead: 0,
            domainController: ConnectorDomainController(
                serviceName: service, invocationID: invocation, highestCommittedUSN: usn,
                defaultNamingContext: "DC=charter,DC=test", dnsHostName: nil, domainSID: nil
            )
        )
    }

    static let notContinued = "the connector's incremental read does not continue the stored watermark"

    @Test(
        "an incremental upload must continue the stored watermark; a full one lists no deletions",
        arguments: [
            (completion(.incremental), SyncRun.Kind.incremental, StoredWatermark?.some(watermark), false, String?.none),
            (completion(.incremental, usn: 48_213), .incremental, watermark, true, nil),
            (completion(.incremental, usn: 48_212), .incremental, watermark, false, notContinued),
            (completion(.incremental, service: "CN=NTDS Settings,CN=DC2"), .incremental, watermark, false, notContinued),
            (completion(.incremental, invocation: UUID()), .incremental, watermark, false, notContinued),
            (completion(.incremental), .incremental, nil, false, notContinued),
            // Asked for a full read, the connector may not answer with an incremental one.
            (completion(.incremental), .full, watermark, false, notContinued),
            // Asked for an incremental read, it may read everything instead.
            (completion(.full), .incremental, watermark, false, nil),
            (completion(.full), .full, nil, false, nil),
            (
                completion(.full), .full, nil, true,
                "the connector's full read lists deletions, which only an incremental read has"
            ),
        ] as [(ConnectorRunCompletion, SyncRun.Kind, StoredWatermark?, Bool, String?)]
    )
    func continuation(
        completion: ConnectorRunCompletion, requested: SyncRun.Kind, watermark: StoredWatermark?, deletions: Bool,
        expected: String?
    ) {
        #expect(
            ConnectorRunDecision.refusal(
                of: completion, requested: requested, watermark: watermark, hasDeletions: deletions
            ) == expected
        )
    }

    @Test("the failure of a run reported by its connector names the connector")
    func failureMessage() {
        #expect(
            ConnectorRunDecision.failureMessage(connector: "Site A", error: "LDAP: search failed: busy")
                == #"connector "Site A": LDAP: search failed: busy"#
        )
        #expect(
            SyncRunDecision.message(for: DirectorySyncError.connectorFailed(#"connector "Site A": x"#))
                == #"connector "Site A": x"#
        )
    }
}
