import AsyncHTTPClient
import CharterConnector
import CharterCore
import CharterDirectory
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Testing

/// `charter connector` in-process against a real `charter serve` and the test Samba DC: a full sync through the
/// connector stores the same users as a direct sync of the same OU (docs/connector.md).
///
/// The network-namespace fixture in which the service cannot reach the DC is another test's; here both run on
/// loopback, so this checks the transport and the data, not the isolation.
@Suite("Connector end to end")
struct ConnectorEndToEndTests {
    let domain = TestDomain()

    @Test("a full sync through the connector stores the users a direct sync stores")
    func fullSyncEqualsDirect() async throws {
        // Two tenants, so that the two connections' objects (the same GUIDs) do not meet.
        let world = try await TestApp.makeWorld(tenants: 2)
        let ldap = try await domain.connect()
        defer { ldap.close() }
        let ou = try await domain.makeOU(ldap, "connector-e2e")
        let staff = try await ldap.addOU("Staff", in: ou)
        let ada = try await ldap.addUser("Ada", in: staff)
        let bob = try await ldap.addUser("Bob, \"Bobby\" Müller", in: staff, disabled: true)
        try await ldap.addUser("Cy", in: ou)
        try await ldap.addGroup("G1", in: ou, members: [ada, bob])
        try await ldap.addComputer("PC1", in: staff)

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let folder = NSTemporaryDirectory() + "charter-connector-e2e-" + UUID().uuidString
        do {
            let replica = try await ServeProcess.start(http: http)
            let api = AdminAPI(http: http, baseURL: replica.baseURL)

            // Direct: the service binds to the DC itself.
            let direct = try await api.call(
                .POST, "/v1/tenants/\(world.tenants[0])/directory/connections", key: world.tenantKeys[0],
                body: [
                    "name": "direct", "urls": [domain.url], "base_dn": ou, "bind_dn": domain.bindDN,
                    "bind_password": domain.password, "tls_mode": "plain", "enabled": false,
                ]
            )
            #expect(direct.status == 201, "\(direct.json)")
            let directConnection = try #require(direct.json["id"] as? String)
            try await api.syncAndWait(tenant: world.tenants[0], connection: directConnection, key: world.tenantKeys[0])

            // Connector: enroll with a connector enrollment token, then name it in a connector-mode connection.
            let token = try await api.call(
                .POST, "/v1/tenants/\(world.tenants[1])/enrollment-tokens", key: world.tenantKeys[1],
                body: ["name": "site A", "purpose": "connector"]
            )
            #expect(token.status == 201, "\(token.json)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try (domain.password + "\n").write(toFile: folder + "/password", atomically: true, encoding: .utf8)
            var settings = ConnectorConfiguration.DirectorySettings(
                urls: [domain.url], baseDN: ou, bindDN: domain.bindDN, passwordFile: folder + "/password"
            )
            settings.transportSecurity = .plain
            var configuration = ConnectorConfiguration(
                serviceURL: replica.baseURL, name: "Site A connector 1", directory: settings
            )
            configuration.allowsInsecureHTTP = true
            configuration.stateDirectory = folder + "/state"
            configuration.enrollmentToken = try #require(token.json["secret"] as? String)
            let service = ConnectorService(
                configuration: configuration, httpClient: http, hostname: "conn1.charter.test", logger: TestApp.logger
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                let state = try await Self.waitForEnrollment(configuration.stateDirectory)
                let viaConnector = try await api.call(
                    .POST, "/v1/tenants/\(world.tenants[1])/directory/connections", key: world.tenantKeys[1],
                    body: [
                        "name": "via connector", "mode": "connector", "connector_ids": [state.connectorID],
                        "enabled": false,
                    ]
                )
                #expect(viaConnector.status == 201, "\(viaConnector.json)")
                let connection = try #require(viaConnector.json["id"] as? String)
                let run = try await api.syncAndWait(tenant: world.tenants[1], connection: connection, key: world.tenantKeys[1])
                // The connector's admin view names the run it served.
                let detail = try await api.call(
                    .GET, "/v1/tenants/\(world.tenants[1])/connectors/\(state.connectorID)", key: world.tenantKeys[1]
                )
                let lastSync = detail.json["last_sync"] as? [String: Any]
                #expect(lastSync?["run_id"] as? String == run, "\(detail.json)")
                #expect(lastSync?["status"] as? String == "succeeded")
                #expect(detail.json["status"] as? String == "online")
                group.cancelAll()
            }

            let directUsers = try await api.users(tenant: world.tenants[0], key: world.tenantKeys[0])
            let connectorUsers = try await api.users(tenant: world.tenants[1], key: world.tenantKeys[1])
            #expect(directUsers.count == 3)
            #expect(connectorUsers == directUsers)
            #expect(try await replica.terminate() == 0)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            try? await http.shutdown()
            throw error
        }
        try? FileManager.default.removeItem(atPath: folder)
        try await http.shutdown()
    }

    /// The connector's stored identity, once its first start enrolled it (a hang is bounded at 30 s).
    static func waitForEnrollment(_ directory: String) async throws -> ConnectorState {
        for _ in 0..<300 {
            if let state = try ConnectorState.load(from: directory) { return state }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ConnectorEndToEndError.timedOut("the connector did not enroll")
    }
}

enum ConnectorEndToEndError: Error {
    case timedOut(String)
}

/// The admin API over HTTP with a tenant key.
struct AdminAPI {
    let http: HTTPClient
    let baseURL: String

    func call(
        _ method: HTTPMethod, _ path: String, key: String, body: [String: any Sendable]? = nil
    ) async throws -> (status: Int, json: [String: Any]) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = Data(buffer: try await response.body.collect(upTo: 4 << 20))
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    /// Starts a full sync and waits until its run succeeded (a hang is bounded at 60 s); the run's id.
    @discardableResult
    func syncAndWait(tenant: TenantID, connection: String, key: String) async throws -> String {
        let started = try await call(
            .POST, "/v1/tenants/\(tenant)/directory/connections/\(connection)/sync", key: key, body: ["kind": "full"]
        )
        #expect(started.status == 202, "\(started.json)")
        let run = try #require(started.json["id"] as? String)
        for _ in 0..<600 {
            let read = try await call(.GET, "/v1/tenants/\(tenant)/directory/sync-runs/\(run)", key: key)
            let status = read.json["status"] as? String
            if status == "succeeded" { return run }
            if status != "running" && status != "applying" {
                Issue.record("sync run \(run) ended \(status ?? "?"): \(read.json)")
                return run
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ConnectorEndToEndError.timedOut("sync run \(run) did not finish")
    }

    /// Every synced user of the tenant, as the fields the directory defines (not the connection's or times).
    func users(tenant: TenantID, key: String) async throws -> [[String: String]] {
        let fields = [
            "guid", "kind", "dn", "parent_guid", "name", "sam_account_name", "user_principal_name", "display_name",
            "sid", "disabled", "primary_group_id",
        ]
        let list = try await call(.GET, "/v1/tenants/\(tenant)/directory/users?limit=200", key: key)
        #expect(list.status == 200, "\(list.json)")
        let items = list.json["items"] as? [[String: Any]] ?? []
        return items.map { item in
            Dictionary(uniqueKeysWithValues: fields.map { ($0, item[$0].map { "\($0)" } ?? "nil") })
        }
    }
}
