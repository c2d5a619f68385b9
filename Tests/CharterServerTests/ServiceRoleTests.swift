import CharterStore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing

@testable import CharterServer

/// `charter serve` and `/readyz` refuse a database role that row-level security would not bind.
@Suite("Service role check")
struct ServiceRoleTests {
    /// Runs `body` with the URL of a new login role, a member of charter_app and of `extraRoles`, dropped after.
    static func withLoginRole(memberOf extraRoles: [String], _ body: @Sendable (String) async throws -> Void) async throws {
        let role = "charter_test_" + UUID().uuidString.prefix(8).lowercased()
        let password = UUID().uuidString
        try await TestApp.withOwner { database in
            @Sendable func run(_ sql: String) async throws {
                try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: TestApp.logger)
            }
            try await run("CREATE ROLE \(role) LOGIN PASSWORD '\(password)' IN ROLE \((["charter_app"] + extraRoles).joined(separator: ", "))")
            var components = try #require(URLComponents(string: TestDatabase.appURL))
            components.user = role
            components.password = password
            let url = try #require(components.string)
            let outcome: Result<Void, any Error>
            do {
                try await body(url)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            try await run("DROP ROLE \(role)")
            try outcome.get()
        }
    }

    @Test("a service role that is a member of the schema owner is not ready, and serve refuses to start")
    func memberOfOwnerRefused() async throws {
        try await Self.withLoginRole(memberOf: ["charter_owner"]) { url in
            // What /readyz answers (OperationsRoutes renders this status).
            let client = PostgresClient(configuration: try DatabaseURL.configuration(from: url), backgroundLogger: TestApp.logger)
            let status = try await client.whileRunning {
                await SchemaCheck(database: Database(client: client)).status(logger: TestApp.logger)
            }
            #expect(!status.isReady)
            #expect(status.description.contains("is a member of 'charter_owner'"))
            // The server's start-up check throws before it listens.
            var config = TestApp.config
            config.databaseURL = url
            let app = try buildApplication(config, logger: TestApp.logger)
            await #expect(throws: StartupError.self) {
                try await app.test(.router) { _ in }
            }
        }
    }

    @Test("a service role that is only a member of charter_app is ready")
    func properRoleAccepted() async throws {
        try await Self.withLoginRole(memberOf: []) { url in
            var config = TestApp.config
            config.databaseURL = url
            let app = try buildApplication(config, logger: TestApp.logger)
            try await app.test(.router) { client in
                let body = try await client.execute(uri: "/readyz", method: .get) { String(buffer: $0.body) }
                #expect(body == "ready\n")
            }
        }
    }
}
