import CharterCore
@testable import CharterServer
import CharterServices
import CharterStore
import Foundation
import Testing

/// The pure rules of the connector area, as tables.
@Suite("Connector rules")
struct ConnectorRulesTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func connector(lastSeen: TimeInterval?, revoked: Bool = false) -> Connector {
        Connector(
            id: .random(), name: "c", hostname: "h", version: "1", protocolVersion: 1, signingKey: Data(count: 32),
            enrolledAt: now.addingTimeInterval(-3600), lastSeenAt: lastSeen.map { now.addingTimeInterval(-$0) },
            revokedAt: revoked ? now : nil, tokenExpiresAt: now.addingTimeInterval(3600)
        )
    }

    @Test(
        "a connector is online when heard within the lease, offline otherwise, revoked above all",
        arguments: [
            (nil as TimeInterval?, false, ConnectorService.Status.offline),
            (0, false, .online),
            (30, false, .online),
            (30.5, false, .offline),
            (0, true, .revoked),
            (nil, true, .revoked),
        ]
    )
    func status(lastSeen: TimeInterval?, revoked: Bool, expected: ConnectorService.Status) {
        let connector = Self.connector(lastSeen: lastSeen, revoked: revoked)
        #expect(ConnectorService.status(of: connector, leaseSeconds: 30, now: Self.now) == expected)
    }

    @Test(
        "a connector feed entry names its event and an object of data; anything else is no command",
        arguments: [
            (#"{"event":"sync","data":{"run_id":"r1"}}"#, "sync" as String?),
            (#"{"event":"configuration","data":{}}"#, "configuration"),
            (#"{"data":{},"event":"update"}"#, "update"),
            (#"{"event":"sync"}"#, nil),
            (#"{"event":"sync","data":[1]}"#, nil),
            (#"{"event":"","data":{}}"#, nil),
            (#"{"event":"a\nevent: bundle","data":{}}"#, nil),
            ("not json", nil),
        ]
    )
    func connectorCommand(data: String, expected: String?) {
        let command = EventHub.connectorCommand(data)
        #expect(command?.name == expected)
        if let command { #expect(!command.data.contains("\n")) }
    }

    @Test(
        "the protocol header: absent is 1, above the range is the highest known, below it is refused with 426",
        arguments: [
            (nil as String?, false, 1 as Int?, nil as Problem.Kind?),
            ("1", false, 1, nil),
            (" 1 ", false, 1, nil),
            ("2", false, 1, nil),
            ("99", false, 1, nil),
            ("0", false, nil, .connectorUpdateRequired),
            ("0", true, 0, nil),
            ("one", false, nil, .malformedRequest),
            ("", false, nil, .malformedRequest),
        ]
    )
    func protocolVersion(header: String?, allowsOutdated: Bool, expected: Int?, refusal: Problem.Kind?) {
        do {
            let version = try ConnectorAuthenticator.protocolVersion(header, allowsOutdated: allowsOutdated)
            #expect(version == expected)
            #expect(refusal == nil)
        } catch let problem as Problem {
            #expect(problem.kind == refusal)
            #expect(problem.field == "Charter-Connector-Protocol")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
