package import CharterCore
package import Logging
package import PostgresNIO
import Foundation
import Metrics

/// The service's one way to PostgreSQL: a pooled client and the tenant-scoped transactions built on it.
///
/// Every read or write of tenant data goes through ``withTenant(_:msp:logger:_:)``, which opens a transaction
/// and sets `charter.msp_id` and `charter.tenant_id` before the closure runs, so row-level security confines
/// every statement to that tenant.
package struct Database: Sendable {
    package let client: PostgresClient
    /// The client of the change feed's `LISTEN` (``listenToChangeFeed(_:)``), when it is not ``client``: one that
    /// reaches PostgreSQL directly while ``client`` goes through a pooler in transaction mode.
    package let listenClient: PostgresClient?
    private let metrics: PoolMetrics

    package init(client: PostgresClient, listenClient: PostgresClient? = nil, maximumConnections: Int = 20) {
        self.client = client
        self.listenClient = listenClient
        self.metrics = PoolMetrics(maximumConnections: maximumConnections)
    }

    /// Runs `body` in a transaction confined to one tenant of one MSP.
    ///
    /// - Throws: ``StoreError/notFound`` when the tenant does not exist, is deleted or belongs to another MSP;
    ///   ``StoreError`` for database failures; otherwise whatever `body` throws.
    @discardableResult
    package func withTenant<Result: Sendable>(
        _ tenant: TenantID,
        msp: MSPID,
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await tenantTransaction(tenant, msp: msp, logger: logger) { tx in
            // The tenant row is visible only when it belongs to this MSP; the check keeps a tenant id of another
            // MSP from ever becoming the session's tenant.
            guard try await tx.tenants.exists(tenant) else { throw StoreError.notFound }
            return try await body(tx)
        }
    }

    /// Runs `body` in a transaction confined to a tenant and MSP that the database reported together (a
    /// device's credential): unlike ``withTenant(_:msp:logger:_:)`` it spends no statement on checking that the
    /// tenant belongs to the MSP, which the agent API would otherwise pay on every call.
    @discardableResult
    package func withTenant<Result: Sendable>(
        _ binding: TenantBinding,
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await tenantTransaction(binding.tenant, msp: binding.msp, logger: logger, body)
    }

    private func tenantTransaction<Result: Sendable>(
        _ tenant: TenantID,
        msp: MSPID,
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(logger: logger) { connection in
            try await connection.statement(
                """
                SELECT set_config('charter.msp_id', \(msp.description), true),
                       set_config('charter.tenant_id', \(tenant.description), true)
                """,
                logger: logger
            )
            return try await body(Transaction(connection: connection, logger: logger))
        }
    }

    /// Runs `body` in a transaction confined to one MSP, with no tenant selected (so no tenant-owned rows).
    package func withMSP<Result: Sendable>(
        _ msp: MSPID,
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(logger: logger) { connection in
            try await connection.statement(
                "SELECT set_config('charter.msp_id', \(msp.description), true)",
                logger: logger
            )
            return try await body(Transaction(connection: connection, logger: logger))
        }
    }

    /// Runs `body` in a transaction with no MSP or tenant set: only functions meant for this (authentication)
    /// and non-tenant tables answer.
    package func withoutTenant<Result: Sendable>(
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        try await transaction(logger: logger) { connection in
            try await body(Transaction(connection: connection, logger: logger))
        }
    }

    /// Runs `body` on a pooled connection outside any transaction, with no MSP or tenant set: for the
    /// single-statement reads of authentication, where a transaction would only add round trips.
    package func readWithoutTenant<Result: Sendable>(
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withOpenConnection { connection in
                try await body(Transaction(connection: connection, logger: logger))
            }
        } catch let error as PSQLError {
            throw StoreError(error)
        }
    }

    /// Runs `body` like ``readWithoutTenant(logger:_:)``, but on `connection`, one this database's client lent
    /// and the caller holds (such as the change-feed listener's): the read never waits for the pool.
    package func readWithoutTenant<Result: Sendable>(
        on connection: PostgresConnection,
        logger: Logger,
        _ body: (Transaction) async throws -> Result
    ) async throws -> Result {
        do {
            return try await body(Transaction(connection: connection, logger: logger))
        } catch let error as PSQLError {
            throw StoreError(error)
        }
    }

    private func transaction<Result: Sendable>(
        logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let waiting = ContinuousClock.now
        metrics.waiting.increment()
        var leased = false
        defer {
            if !leased { metrics.waiting.decrement() }
        }
        do {
            return try await client.withOpenConnection { connection in
                leased = true
                metrics.waiting.decrement()
                metrics.leaseWait.record(ContinuousClock.now - waiting)
                metrics.inUse.increment()
                defer { metrics.inUse.decrement() }
                return try await connection.transaction(logger: logger, body)
            }
        } catch let error as PSQLError {
            // The caller's own errors (access checks, validation) pass through unchanged.
            throw StoreError(error)
        }
    }
}

/// The pool's figures for `/metrics`: PostgresNIO keeps its own pool statistics internal, so the store
/// measures what passes through it.
///
/// - `charter_db_pool_max_connections`: the configured ceiling per process.
/// - `charter_db_pool_in_use`: transactions holding a connection now.
/// - `charter_db_pool_waiting`: transactions waiting for a connection now.
/// - `charter_db_pool_lease_wait_seconds`: how long transactions waited for a connection.
private struct PoolMetrics: Sendable {
    let inUse = Meter(label: "charter_db_pool_in_use")
    let waiting = Meter(label: "charter_db_pool_waiting")
    let leaseWait = Timer(label: "charter_db_pool_lease_wait_seconds", preferredDisplayUnit: .seconds)

    init(maximumConnections: Int) {
        Gauge(label: "charter_db_pool_max_connections").record(maximumConnections)
    }
}

extension Metrics.Timer {
    /// Records a `Duration` (swift-metrics takes integer nanoseconds).
    package func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

extension PostgresClient {
    /// Runs `body` while this client runs, for one-shot uses (commands, tests): `run()` is under way before `body`
    /// leases (a lease before it logs a warning), and the client stops when `body` returns or throws.
    package func whileRunning<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (started, starting) = AsyncStream.makeStream(of: Void.self)
            group.addTask {
                starting.finish()
                await self.run()
            }
            defer { group.cancelAll() }
            for await _ in started {}
            return try await body()
        }
    }
}
