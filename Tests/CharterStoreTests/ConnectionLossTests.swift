import CharterStore
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// Connections the server closes under the service (`pg_terminate_backend`, as in a restart or failover).
@Suite("Database connections closed by the server")
struct ConnectionLossTests {
    @Test("application_name names the connections: charter unless the URL names another; a bad one is refused")
    func applicationName() throws {
        func name(_ url: String) throws -> String? {
            let configuration = try DatabaseURL.configuration(from: url)
            return configuration.options.additionalStartupParameters.first { $0.0 == "application_name" }?.1
        }
        #expect(try name("postgres://u@db/charter") == "charter")
        #expect(try name("postgres://u@db/charter?application_name=charter-eu-1") == "charter-eu-1")
        #expect(throws: DatabaseURL.Invalid.self) { try name("postgres://u@db/charter?application_name=caf%C3%A9") }
        #expect(throws: DatabaseURL.Invalid.self) {
            try name("postgres://u@db/charter?application_name=" + String(repeating: "a", count: 64))
        }
    }

    /// A replica stopping past its grace period still has requests running when its pool shuts down: they must
    /// answer 503 (``StoreError/unavailable``), which a load balancer retries elsewhere, not the pool's own error.
    @Test("a lease from a pool that has shut down is unavailable, in a read and in a transaction")
    func shutDownPool() async throws {
        try await TestDatabase.migrate()
        let client = PostgresClient(
            configuration: try DatabaseURL.configuration(from: TestDatabase.appURL), backgroundLogger: TestDatabase.logger
        )
        let database = Database(client: client)
        try await client.whileRunning {
            try await database.readWithoutTenant(logger: TestDatabase.logger) { tx in try await tx.query("SELECT 1") }
        }
        await #expect(throws: StoreError.unavailable) {
            try await database.readWithoutTenant(logger: TestDatabase.logger) { tx in try await tx.query("SELECT 1") }
        }
        await #expect(throws: StoreError.unavailable) {
            try await database.withoutTenant(logger: TestDatabase.logger) { tx in try await tx.query("SELECT 1") }
        }
    }

    /// Outcomes of the workers' transactions.
    final class Tally: Sendable {
        private let counts = Mutex((completed: 0, unavailable: 0, other: [String]()))

        func record(_ result: Result<Void, any Error>) {
            counts.withLock { counts in
                switch result {
                case .success: counts.completed += 1
                case .failure(StoreError.unavailable): counts.unavailable += 1
                case .failure(let error): counts.other.append(String(reflecting: error))
                }
            }
        }

        var value: (completed: Int, unavailable: Int, other: [String]) { counts.withLock { $0 } }
    }

    /// PostgresNIO 1.33 drops a statement written to a closed connection and its caller waits forever; without
    /// `withOpenConnection` and `statement` this test hangs (its time limit fails it).
    @Test(
        "transactions on connections terminated under them end, completed or unavailable, and the pool recovers",
        .timeLimit(.minutes(1))
    )
    func terminatedConnections() async throws {
        try await TestDatabase.migrate()
        // Only this test's connections are terminated: other tests share the server.
        let name = "charter-loss-\(UUID().uuidString.prefix(8))"
        let url = TestDatabase.appURL + (TestDatabase.appURL.contains("?") ? "&" : "?") + "application_name=\(name)"
        let tally = Tally()
        try await TestDatabase.with(url) { database in
            try await TestDatabase.with(TestDatabase.ownerURL) { owner in
                let end = ContinuousClock.now + .seconds(3)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for worker in 0..<6 {
                        group.addTask {
                            while ContinuousClock.now < end {
                                let result = await Result {
                                    try await database.withoutTenant(logger: TestDatabase.logger) { tx in
                                        try await tx.query("SELECT pg_sleep(0.002)")
                                        if worker.isMultiple(of: 2) { try await tx.query("SELECT 1") }
                                    }
                                }
                                tally.record(result)
                            }
                        }
                    }
                    group.addTask {
                        while ContinuousClock.now < end {
                            _ = try await owner.withoutTenant(logger: TestDatabase.logger) { tx in
                                try await tx.query(
                                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = \(name)"
                                )
                            }
                            try await Task.sleep(for: .milliseconds(Int.random(in: 20...150)))
                        }
                    }
                    try await group.waitForAll()
                }
            }
            let counts = tally.value
            #expect(counts.other.isEmpty, "\(counts.other.prefix(3))")
            #expect(counts.completed > 0)
            #expect(counts.unavailable > 0, "no transaction met a terminated connection: the test proved nothing")
            _ = try await database.withoutTenant(logger: TestDatabase.logger) { tx in try await tx.query("SELECT 1") }
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
