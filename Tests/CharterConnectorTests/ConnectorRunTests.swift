import AsyncHTTPClient
import CharterConnector
import CharterDirectory
import CharterTestSupport
import Foundation
import Logging
import Testing

/// The run loop against the real Samba DC and a scripted peer of the protocol (`Fixtures/connector_peer.py`) that
/// answers as each test's scenario says, to provoke what the real service rarely does: a `503` mid-upload, a token
/// about to expire, a resumed run, a closed run. ConnectorEndToEndTests (CharterServerTests) runs it against
/// `charter serve`.
@Suite("Connector runs")
struct ConnectorRunTests {
    static let directory = TestDirectory()

    /// The peer's log: one object per request, in order.
    typealias Log = [[String: Any]]

    /// Runs the connector against a peer with `scenario` until `done(log)` holds (a hang is bounded at 60 s).
    static func run(scenario: [String: Any], baseDN: String, until done: (Log) -> Bool) async throws -> Log {
        let interpreter = TestEnvironment.python ?? "/usr/bin/python3"
        let script = try #require(Bundle.module.url(forResource: "connector_peer", withExtension: "py"))
        let json = String(decoding: try JSONSerialization.data(withJSONObject: scenario), as: UTF8.self)
        let peer = try await ScriptServer.start(
            interpreter, prefix: "charter-connector-peer", arguments: { [script.path, $0.path, json] },
            failure: { "the connector peer did not start with \(interpreter): \($0)" }
        )
        let folder = peer.directory.path
        try (directory.password + "\n").write(toFile: folder + "/password", atomically: true, encoding: .utf8)
        var settings = ConnectorConfiguration.DirectorySettings(
            urls: [directory.ldapsURL], baseDN: baseDN, bindDN: directory.bindDN, passwordFile: folder + "/password"
        )
        settings.caFile = directory.caFile
        settings.pageSize = 2
        var configuration = ConnectorConfiguration(
            serviceURL: "http://127.0.0.1:\(peer.port)", name: "Site A connector 1", directory: settings
        )
        configuration.allowsInsecureHTTP = true
        configuration.stateDirectory = folder + "/state"
        configuration.enrollmentToken = "chte_test"
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let service = ConnectorService(
            configuration: configuration, httpClient: http, hostname: "conn1.charter.test", logger: directory.logger
        )
        var log: Log = []
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                for _ in 0..<600 {
                    log = Self.log(peer)
                    if done(log) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                group.cancelAll()
            }
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
        withExtendedLifetime(peer) {}
        #expect(done(log), "the connector did not get there: \(log.map { "\($0["method"] ?? "") \($0["path"] ?? "")" })")
        return log
    }

    static func log(_ peer: ScriptServer) -> Log {
        let text = (try? String(contentsOf: peer.directory.appendingPathComponent("log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    /// An OU of the test's own with a known content: the OU, three users, a group, a computer.
    static func makeOU(_ prefix: String) async throws -> String {
        let admin = try await directory.connect()
        defer { admin.close() }
        let ou = try await directory.makeOU(admin, prefix)
        let ada = try await admin.addUser("Ada", in: ou)
        try await admin.addUser("Bob", in: ou, disabled: true)
        try await admin.addUser("Cy", in: ou)
        try await admin.addGroup("Staff", in: ou, members: [ada])
        try await admin.addComputer("WS-1", in: ou)
        return ou
    }

    static func requests(_ log: Log, _ method: String, _ suffix: String) -> Log {
        log.filter { $0["method"] as? String == method && ($0["path"] as? String)?.hasSuffix(suffix) == true }
    }

    static func run(_ id: String, pagesReceived: Int = 0) -> [String: Any] {
        [
            "run_id": id, "connection_id": "conn-1", "kind": "full", "page_size": 1000, "maximum_objects": 1000,
            "pages_received": pagesReceived,
        ]
    }

    @Test("a run is read, uploaded as gzipped pages and completed; a 503 is retried with the same bytes; a token near expiry is renewed by signature first")
    func fullRun() async throws {
        let ou = try await Self.makeOU("connector-run")
        let log = try await Self.run(
            scenario: ["token_seconds": 1800, "runs": [Self.run("run-1")], "fail_page_once": ["page": 2, "status": 503]],
            baseDN: ou, until: { !Self.requests($0, "POST", "/runs/run-1/complete").isEmpty }
        )
        #expect(log.allSatisfy { $0["protocol"] as? String == "1" })
        let enroll = try #require(Self.requests(log, "POST", "/v1/connector/enroll").first?["body"] as? [String: Any])
        let key = try #require(enroll["signing_key"] as? [String: Any])
        #expect(key["kty"] as? String == "OKP")
        #expect(key["crv"] as? String == "Ed25519")
        #expect(enroll["enrollment_token"] as? String == "chte_test")
        #expect(enroll["name"] as? String == "Site A connector 1")
        #expect(enroll["proof"] == nil)
        // The enroll answer's token had 30 minutes left: renewed (the peer checks the signature) before any use.
        #expect(Self.requests(log, "POST", "/v1/connector/token").count == 1)
        #expect(!log.contains { $0["authorization"] as? String == "Bearer chtk_1" })
        #expect(log.contains { $0["authorization"] as? String == "Bearer chtk_2" })

        let puts = Self.requests(log, "PUT", "").filter { ($0["path"] as? String)?.contains("/runs/run-1/pages/") == true }
        #expect(puts.allSatisfy { $0["content_encoding"] as? String == "gzip" })
        let page2 = puts.filter { ($0["path"] as? String)?.hasSuffix("/pages/2") == true }
        #expect(page2.count == 2)
        let hashes = page2.compactMap { ($0["body"] as? [String: Any])?["sha256"] as? String }
        #expect(Set(hashes).count == 1, "the retried page must be the same bytes")

        var pages: [String: [[String: Any]]] = [:]
        for put in puts {
            let number = String((put["path"] as? String ?? "").split(separator: "/").last ?? "")
            let body = (put["body"] as? [String: Any])?["page"] as? [String: Any]
            pages[number] = body?["objects"] as? [[String: Any]]
        }
        let objects = pages.values.flatMap { $0 }
        #expect(objects.count == 6)
        #expect(Set(objects.compactMap { $0["guid"] as? String }).count == 6)
        #expect(objects.filter { $0["kind"] as? String == "user" }.count == 3)
        #expect(objects.allSatisfy { ($0["dn"] as? String)?.lowercased().hasSuffix(ou.lowercased()) == true })

        let complete = try #require(Self.requests(log, "POST", "/runs/run-1/complete").first?["body"] as? [String: Any])
        #expect(complete["pages"] as? Int == pages.count)
        #expect(Set(pages.keys) == Set((1...pages.count).map(String.init)))
        #expect(complete["kind"] as? String == "full")
        #expect(complete["objects_read"] as? Int == 6)
        #expect(complete["tombstones_read"] as? Int == 0)
        let dc = try #require(complete["domain_controller"] as? [String: Any])
        #expect((dc["service_name"] as? String)?.contains("NTDS Settings") == true)
        #expect(UUID(uuidString: dc["invocation_id"] as? String ?? "") != nil)

        let heartbeat = try #require(Self.requests(log, "POST", "/v1/connector/heartbeat").first?["body"] as? [String: Any])
        let controllers = try #require(heartbeat["domain_controllers"] as? [[String: Any]])
        #expect(controllers.first?["url"] as? String == Self.directory.ldapsURL)
        #expect(controllers.first?["reachable"] as? Bool == true)
        #expect(Self.requests(log, "POST", "/fail").isEmpty)
    }

    @Test("a resumed run whose last held page now reads differently is failed, not merged; an expired token is renewed and the call retried")
    func resumeConflict() async throws {
        let ou = try await Self.makeOU("connector-resume")
        let log = try await Self.run(
            scenario: [
                "runs": [Self.run("run-2", pagesReceived: 2)], "held": ["run-2": ["1": "0", "2": "0"]],
                "expire_work_once": true,
            ],
            baseDN: ou, until: { !Self.requests($0, "POST", "/runs/run-2/fail").isEmpty }
        )
        let works = Self.requests(log, "GET", "/v1/connector/work")
        #expect(works.count >= 2)
        #expect(works.first?["authorization"] as? String == "Bearer chtk_1")
        #expect(works.dropFirst().first?["authorization"] as? String == "Bearer chtk_2")
        let puts = Self.requests(log, "PUT", "").compactMap { $0["path"] as? String }
        #expect(!puts.contains { $0.hasSuffix("/pages/1") }, "a held page is not sent again")
        #expect(puts.filter { $0.hasSuffix("/pages/2") }.count == 1)
        let failure = try #require(Self.requests(log, "POST", "/runs/run-2/fail").first?["body"] as? [String: Any])
        #expect((failure["error"] as? String)?.contains("the directory changed since the interrupted upload") == true)
        #expect(Self.requests(log, "POST", "/complete").isEmpty)
    }

    @Test("a run the service closed is dropped: neither completed nor failed")
    func closedRun() async throws {
        let ou = try await Self.makeOU("connector-closed")
        let log = try await Self.run(
            scenario: ["runs": [Self.run("run-3")], "close_page": 1], baseDN: ou,
            until: { log in
                // A heartbeat after the refused upload: the connector went on.
                guard let put = log.firstIndex(where: { ($0["path"] as? String)?.hasSuffix("/run-3/pages/1") == true })
                else { return false }
                return log[put...].contains { ($0["path"] as? String) == "/v1/connector/heartbeat" }
            }
        )
        #expect(Self.requests(log, "POST", "/fail").isEmpty)
        #expect(Self.requests(log, "POST", "/complete").isEmpty)
        #expect(!Self.requests(log, "PUT", "").contains { ($0["path"] as? String)?.hasSuffix("/pages/2") == true })
    }

    @Test("an incremental run continues a watermark of the DC that answers, and reads everything when the DC's invocationId differs")
    func incrementalRuns() async throws {
        let ou = try await Self.makeOU("connector-incremental")
        let admin = try await Self.directory.connect()
        defer { admin.close() }
        let identity = try await DirectoryReader(connection: admin, baseDN: ou, logger: Self.directory.logger).readIdentity()
        let added = try await admin.addUser("Dee", in: ou)
        func incremental(_ id: String, invocationID: UUID) -> [String: Any] {
            var run = Self.run(id)
            run["kind"] = "incremental"
            run["watermark"] = [
                "dc_service_name": identity.serviceName, "invocation_id": invocationID.uuidString,
                "usn": identity.highestCommittedUSN,
            ]
            return run
        }
        let log = try await Self.run(
            scenario: ["runs": [incremental("run-4", invocationID: identity.invocationID), incremental("run-5", invocationID: UUID())]],
            baseDN: ou,
            until: { !Self.requests($0, "POST", "/runs/run-4/complete").isEmpty && !Self.requests($0, "POST", "/runs/run-5/complete").isEmpty }
        )
        let continued = try #require(Self.requests(log, "POST", "/runs/run-4/complete").first?["body"] as? [String: Any])
        #expect(continued["kind"] as? String == "incremental")
        let changed = Self.requests(log, "PUT", "").filter { ($0["path"] as? String)?.contains("/runs/run-4/") == true }
            .flatMap { (($0["body"] as? [String: Any])?["page"] as? [String: Any])?["objects"] as? [[String: Any]] ?? [] }
        #expect(changed.contains { ($0["dn"] as? String)?.lowercased() == added.lowercased() })
        #expect(changed.count < 7, "an incremental read returns the changes, not the OU")
        let dc = try #require(continued["domain_controller"] as? [String: Any])
        #expect(dc["invocation_id"] as? String == identity.invocationID.uuidString)
        #expect((dc["highest_committed_usn"] as? Int).map { Int64($0) >= identity.highestCommittedUSN } == true)

        let restarted = try #require(Self.requests(log, "POST", "/runs/run-5/complete").first?["body"] as? [String: Any])
        #expect(restarted["kind"] as? String == "full")
        #expect(restarted["objects_read"] as? Int == 7)
    }

    @Test("a connector the service no longer speaks to (426) stops calling for the hour and does not enroll again")
    func updateRequired() async throws {
        let ou = try await Self.makeOU("connector-update")
        let log = try await Self.run(
            scenario: ["update_required": true], baseDN: ou,
            until: { log in
                // Two seconds after its first refused call (heartbeats come every second otherwise).
                guard let first = log.first(where: { $0["authorization"] != nil && !($0["path"] as? String ?? "").contains("/token") }),
                    let at = first["time"] as? Double
                else { return false }
                return Date().timeIntervalSince1970 > at + 2
            }
        )
        let refused = log.filter { $0["authorization"] != nil }
        // At most the three loops' first calls (heartbeat, events, work): then it waits an hour.
        #expect((1...3).contains(refused.count), "\(refused.map { $0["path"] ?? "" })")
        #expect(Self.requests(log, "POST", "/v1/connector/enroll").count == 1)
    }
}
