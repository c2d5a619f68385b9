import CharterCore
import CharterServer
import CharterStore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

/// The real service against the PostgreSQL that scripts/test starts.
enum TestApp {
    static var logger: Logger { TestDatabase.logger }

    /// The value of the environment variable `name` (a test run without it stops with a hint).
    static func env(_ name: String) -> String { TestEnvironment.required(name) }

    /// Loopback, where the tests' Samba DC (127.0.0.2) and webhook receivers (127.0.0.1) run: the outbound
    /// policy refuses it unless allowed, as here.
    static var loopback: [IPNetwork] { TestLoopback.networks }

    /// The outbound policy of the tests: the default one with loopback allowed.
    static var destinations: DestinationPolicy { TestLoopback.destinations }

    static var config: ServerConfiguration {
        var config = ServerConfiguration(databaseURL: TestDatabase.appURL)
        config.maxBodyBytes = 4096
        config.outboundAllowedNetworks = loopback
        // No scheduler in test applications: one would claim any tenant's due connection, another test's
        // among them (the scheduling tests run schedulers of their own).
        config.directorySyncPollSeconds = 0
        // Nor the audit chain verification, which reads every tenant's chain (AuditChainVerifierTests run it).
        config.auditVerifyIntervalSeconds = 0
        return config
    }

    /// Runs `body` with the schema owner's database (migrated), for fixtures.
    @discardableResult
    static func withOwner<Result: Sendable>(_ body: @Sendable (Database) async throws -> Result) async throws -> Result {
        try await TestDatabase.withOwner(body)
    }

    /// Runs `body` with the service role's database (bound by row-level security), as `charter serve` has it.
    static func withService<Result: Sendable>(_ body: @Sendable (Database) async throws -> Result) async throws -> Result {
        try await TestDatabase.withService(body)
    }

    /// An MSP with an owner key and `tenants` tenants, each with an owner key of its own.
    struct World: Sendable {
        var msp: MSPID
        var mspKey: String
        var tenants: [TenantID]
        var tenantKeys: [String]
    }

    static func makeWorld(tenants count: Int = 2) async throws -> World {
        try await withOwner { database in
            let bootstrap = Bootstrap(database: database, logger: logger, actorName: "tests")
            let (msp, mspKey) = try await bootstrap.createMSP(name: "MSP \(UUID())")
            var tenants: [TenantID] = []
            var keys: [String] = []
            for index in 0..<count {
                let tenant = try await bootstrap.createTenant(msp: msp.id, name: "Tenant \(index)")
                tenants.append(tenant.id)
                keys.append(try await bootstrap.createAPIKey(name: "owner \(index)", role: .owner, scope: .tenant(msp.id, tenant.id)))
            }
            return World(msp: msp.id, mspKey: mspKey, tenants: tenants, tenantKeys: keys)
        }
    }

    static func run(
        _ config: ServerConfiguration = config,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await withOwner { _ in }
        let app = try buildApplication(config, logger: logger)
        try await app.test(.router, body)
    }

    /// The configuration with a key-encryption key, which enrollment, bundles and PINs need.
    static var sealingConfig: ServerConfiguration {
        var config = config
        config.kek = TestDomain.kek
        config.maxBodyBytes = 1 << 20
        return config
    }
}

/// A decoded answer of the service.
struct Answer: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var json: [String: any Sendable]

    var problemField: String? { json["field"] as? String }
    var items: [[String: any Sendable]] { (json["items"] as? [[String: any Sendable]]) ?? [] }
}

extension TestClientProtocol {
    /// Sends a request with a bearer key and an optional JSON body (a string, sent as is).
    func call(
        _ method: HTTPRequest.Method,
        _ uri: String,
        key: String? = nil,
        body: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Answer {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(
            uri: uri,
            method: method,
            headers: headers,
            body: body.map { ByteBuffer(string: $0) }
        ) { response in
            let data = Data(response.body.readableBytesView)
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return Answer(
                status: response.status,
                headers: response.headers,
                json: object.mapValues { SendableJSON.wrap($0) }
            )
        }
    }
}

extension TestClientProtocol {
    /// Starts a sync through `POST .../sync` (or a run's `confirm`), expects `202` with the run's `Location`, and
    /// reads the run until it is no longer `running` (at most about a minute).
    ///
    /// - Returns: the finished run as the API answers it.
    func syncAndWait(
        _ uri: String, key: String, body: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> Answer {
        let started = try await call(.post, uri, key: key, body: body)
        #expect(started.status == .accepted, "\(started.json)", sourceLocation: sourceLocation)
        #expect(started.json["status"] as? String == "running", sourceLocation: sourceLocation)
        let location = try #require(started.headers[.location], sourceLocation: sourceLocation)
        #expect(location.hasSuffix("/directory/sync-runs/\((started.json["id"] as? String) ?? "")"))
        for _ in 0..<600 {
            let run = try await call(.get, location, key: key)
            if run.json["status"] as? String != "running" { return run }
            // The run works in the service's background; polling its resource is what a client does too.
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the sync run at \(location) did not finish", sourceLocation: sourceLocation)
        return started
    }
}

/// JSONSerialization's output made Sendable for the answers above.
enum SendableJSON {
    static func wrap(_ value: Any) -> any Sendable {
        switch value {
        case let dictionary as [String: Any]: dictionary.mapValues(wrap)
        case let array as [Any]: array.map(wrap)
        case let string as String: string
        case let number as NSNumber: number.doubleValue
        default: "\(value)"
        }
    }
}

/// Asserts an RFC 9457 answer with the given status.
func expectProblem(_ answer: Answer, _ status: Int, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(answer.status.code == status, sourceLocation: sourceLocation)
    #expect(answer.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    #expect((answer.json["status"] as? Double) == Double(status), sourceLocation: sourceLocation)
    #expect((answer.json["type"] as? String)?.hasPrefix("/docs/problems/") == true, sourceLocation: sourceLocation)
    if let field {
        #expect(answer.problemField == field, sourceLocation: sourceLocation)
    }
}
